"""`cnnlab convert`: weights between PyTorch state_dicts, safetensors and ONNX."""

from __future__ import annotations

import argparse

from cnnlab.cli import command


def _convert_configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", metavar="IN", help="a PyTorch state_dict (.pt/.pth) or a .safetensors file")
    p.add_argument("output", metavar="OUT", help="the file to write: .safetensors or .pt/.pth, or .onnx")
    p.add_argument("--model", help="for .onnx from a .safetensors file: the zoo model it holds (such as resnet18)")
    p.add_argument("--input", dest="input_size", help="for .onnx: W x H x D to trace at (default: the model's own)")
    p.add_argument("--opset", type=int, default=17, help="for .onnx: the ONNX opset (default 17)")


def _convert(args: argparse.Namespace) -> int:
    """Weights between a PyTorch state_dict and safetensors; never unpickles anything but tensors."""
    from cnnlab.io import convert_state_dict

    if args.output.lower().endswith(".onnx"):  # a checkpoint folder or a zoo model's weights, as an ONNX graph
        from cnnlab.analysis.shapes import parse_size
        from cnnlab.onnx.tools import convert
        print(convert(args.input, args.output, args.model, parse_size(args.input_size, "convert") if args.input_size else None, args.opset))
        return 0
    tensors = convert_state_dict(args.input, args.output)
    count = sum(v.size for v in tensors.values())
    print(f"{args.input} -> {args.output}: {len(tensors)} tensors, {count:,} values")
    return 0


command("convert", "convert weights between a PyTorch state_dict (.pt/.pth) and safetensors", configure=_convert_configure)(_convert)
