"""examples/ddp.py: two processes of DistributedDataParallel (gloo, on loopback) end with the
weights of one process stepping on the whole batch, and rank 0's files load in cnnlab and ONNX Runtime."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from cnnlab.io import load_safetensors  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--steps", "2", "--cnnlab-steps", "2", "--batch-size", "64"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd: list[str], out: Path) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]), "GLOO_SOCKET_IFNAME": "lo",
           "OMP_NUM_THREADS": "1"}
    done = subprocess.run([*cmd, str(ROOT / "examples" / "ddp.py"), "--out", str(out), *ARGS], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the loopback interface is named 'lo' on Linux")
def test_two_processes_equal_one(tmp_path):
    two = run([sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", "2",
               "--master-addr", "127.0.0.1", "--master-port", str(free_port())], tmp_path / "two")
    one = run([sys.executable], tmp_path / "one")
    assert "ONNX Runtime on 1000 test digits" in two and "ONNX Runtime on 1000 test digits" in one
    a, b = load_safetensors(tmp_path / "one" / "model.safetensors"), load_safetensors(tmp_path / "two" / "model.safetensors")
    assert list(a) == list(b)
    first = load_safetensors(ROOT / "src" / "cnnlab" / "data" / "pretrained" / "lenet5" / "model.safetensors")
    assert list(a) == list(first)  # cnnlab's LeNet-5 keys throughout
    for k in a:  # float32 sums in another order (all-reduce of two halves): compare to the magnitude
        scale = np.abs(a[k]).max()
        np.testing.assert_allclose(b[k], a[k], rtol=0, atol=1e-5 * scale, err_msg=k)
    assert (tmp_path / "two" / "model.onnx").stat().st_size > 0
