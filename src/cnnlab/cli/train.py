"""`cnnlab train`, `eval` and `predict`: training runs and their checkpoints."""

from __future__ import annotations

import argparse
import sys

from cnnlab.cli import command


_TRAIN_OPTIONS = ("model", "data", "epochs", "batch_size", "optimizer", "lr", "weight_decay", "momentum", "schedule",
                  "augment", "seed", "out")


def _train_configure(p: argparse.ArgumentParser) -> None:
    from cnnlab.data.spec import SPECS
    from cnnlab.train import OPTIMIZERS, SCHEDULES, TrainConfig

    d = TrainConfig()
    p.add_argument("--model", help=f"model name (default {d.model}; see `cnnlab summary --list`)")
    p.add_argument("--data", help=f"{SPECS}; default {d.data}")
    p.add_argument("--epochs", type=int, help=f"default {d.epochs}; with --resume: a new total (schedule 'none' only)")
    p.add_argument("--batch-size", type=int, help=f"default {d.batch_size}")
    p.add_argument("--optimizer", choices=OPTIMIZERS, help=f"default {d.optimizer}")
    p.add_argument("--lr", type=float, help=f"(peak) learning rate, default {d.lr}")
    p.add_argument("--weight-decay", type=float, help=f"default {d.weight_decay}")
    p.add_argument("--momentum", type=float, help=f"for sgd and rmsprop, default {d.momentum}")
    p.add_argument("--schedule", choices=SCHEDULES, help=f"learning-rate schedule, default {d.schedule}")
    p.add_argument("--no-augment", dest="augment", action="store_const", const=False, help="no random affine augmentation")
    p.add_argument("--seed", type=int, help=f"default {d.seed}")
    p.add_argument("--out", help=f"checkpoint folder, default {d.out}")
    p.add_argument("--resume", metavar="DIR", help="continue the run saved in DIR (its settings are used)")
    p.add_argument("--overwrite", action="store_true", help="replace a run already in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _option(field: str) -> str:
    return "--no-augment" if field == "augment" else "--" + field.replace("_", "-")


def _train(args: argparse.Namespace) -> int:
    """Train a model with progress bars; checkpoints after every epoch."""
    import dataclasses
    import time
    from pathlib import Path

    from tqdm import tqdm

    from cnnlab.checkpoint import INFO_FILE, load_checkpoint
    from cnnlab.train import ConfigError, TrainConfig, TrainingError, train

    given = {k: getattr(args, k) for k in _TRAIN_OPTIONS if getattr(args, k) is not None}
    if args.resume is not None:
        others = [_option(k) for k in given if k != "epochs"] + (["--overwrite"] if args.overwrite else [])
        if others:
            raise ValueError(f"{others[0]} cannot be given with --resume: the run continues with its own settings "
                             "(only --epochs may change)")
        config, out = None, args.resume
    else:
        config = TrainConfig(**{**dataclasses.asdict(TrainConfig()), **given})
        out = config.out
        try:
            config.check()
        except ConfigError as e:
            raise ValueError(f"{_option(e.field)} {e.message}") from None
        if not args.overwrite and (Path(out) / INFO_FILE).exists():
            raise ValueError(f"--out {out} already holds a training run: continue it with --resume {out}, "
                             "or replace it with --overwrite")
    bar = None
    steps = epochs = 0  # of the run, known from its "start" event
    began = time.perf_counter()
    saved: list[int] = []
    started = False

    def show(event: str, info: dict) -> None:
        nonlocal bar, started, steps, epochs
        if event == "start":
            started = True
            c = info["config"]
            print(f"training {c.model} on {c.data} ({info['train_size']} train / {info['test_size']} test images), "
                  f"{c.epochs} epochs of {info['steps']} steps, {c.optimizer} lr {c.lr:g} {c.schedule}"
                  + (f", resuming after epoch {info['start_epoch']}" if info["start_epoch"] else ""))
            steps, epochs = info["steps"], c.epochs
        elif event == "step":
            if bar is None:
                bar = tqdm(total=steps, desc=f"epoch {info['epoch'] + 1}/{epochs}", leave=False,
                           disable=args.quiet, dynamic_ncols=True)
            bar.update(1)
            if info["step"] % 10 == 0:
                bar.set_postfix(loss=f"{info['loss']:.4f}", acc=f"{info['acc']:.3f}")
        elif event == "epoch":
            saved.append(info["epoch"] + 1)
            if bar is not None:
                bar.close()
                bar = None
            print(f"epoch {info['epoch'] + 1:3d}/{epochs}: train loss {info['train_loss']:.4f} "
                  f"acc {info['train_acc']:.4f} | test loss {info['test_loss']:.4f} acc {info['test_acc']:.4f} "
                  f"| {info['seconds']:.1f}s", flush=True)
        elif event == "end":
            h = info["history"]
            print(f"done: test accuracy {h.test_acc[-1]:.4f} (best {max(h.test_acc):.4f}) in "
                  f"{time.perf_counter() - began:.1f}s; checkpoint in {info['out']}")

    def where() -> str:
        """Where the last complete checkpoint is, said honestly."""
        try:
            epoch = load_checkpoint(out).info["epoch"]
        except (ValueError, OSError):
            return "no checkpoint was written"
        if saved or args.resume is not None:
            return f"the last complete checkpoint is in {out} (epoch {epoch}; continue with --resume {out})"
        return f"no epoch was saved; {out} still holds the earlier run (epoch {epoch}), not replaced"

    try:
        train(config, resume=args.resume, callback=show, epochs=args.epochs if args.resume is not None else None,
              overwrite=args.overwrite)
        from cnnlab.viz import report_checkpoint

        written = report_checkpoint(out)
        print("pictures: " + ", ".join(str(p) for p in written.values()))
    except ConfigError as e:
        raise ValueError(f"{_option(e.field)} {e.message}") from None
    except (TrainingError, OSError) as e:
        if bar is not None:
            bar.close()
        if isinstance(e, OSError) and not started:
            raise
        print(f"cnnlab train: error: {e}; {where()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        print(f"cnnlab train: interrupted; {where()}", file=sys.stderr)
        return 130
    return 0


command("train", "train a CNN (default: LeNet-5 on the embedded MNIST digits)", configure=_train_configure)(_train)


def _eval_configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="checkpoint folder (or a file in it)")
    p.add_argument("--data", help="dataset to evaluate on (default: the one it was trained on)")


def _eval(args: argparse.Namespace) -> int:
    """Accuracy and loss of a checkpoint on a test split."""
    from cnnlab.checkpoint import load_model
    from cnnlab.data.loader import as_arrays
    from cnnlab.data.preprocess import normalize
    from cnnlab.data.spec import load_data
    from cnnlab.evaluate import evaluate

    model, ckpt = load_model(args.checkpoint)
    spec = args.data or ckpt.info["config"]["data"]
    images, labels = as_arrays(load_data(spec).test)
    p = ckpt.preprocess
    if images.shape[1:] != (p.channels, *p.size) or labels.max(initial=0) >= len(ckpt.classes):
        raise ValueError(f"--data {spec}: its test images {images.shape[1:]} with labels up to {labels.max(initial=0)} "
                         f"do not fit the checkpoint's model ({p.channels}x{p.size[0]}x{p.size[1]} images, "
                         f"{len(ckpt.classes)} classes)")
    loss, acc, pred = evaluate(model, normalize(images, p), labels)
    print(f"{ckpt.info['model']} (epoch {ckpt.info['epoch']}) on {spec} test split: accuracy {acc:.4f} "
          f"({int((pred == labels).sum())}/{len(labels)}), loss {loss:.4f}")
    return 0


command("eval", "evaluate a checkpoint on its test split", configure=_eval_configure)(_eval)


def _predict_configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="checkpoint folder (or a file in it), or a model with shipped weights (lenet5)")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files of any size and colour")
    p.add_argument("--top", type=int, default=3, help="how many classes to show (default 3)")


def _predict(args: argparse.Namespace) -> int:
    """Classify images, prepared as the model's training images were."""
    import os
    from importlib.resources import files

    from cnnlab import models
    from cnnlab.onnx.tools import predict  # a checkpoint folder or an .onnx classifier

    target = args.checkpoint
    if not os.path.exists(target) and target.lower() in models.list():  # a model name: its shipped weights
        target = files("cnnlab").joinpath(models.get_model_weights(target).DEFAULT.url).parent
    print("\n".join(predict(target, args.images, args.top)))
    return 0


command("predict", "classify image files with a trained checkpoint", configure=_predict_configure)(_predict)
