"""`cnnlab serve`: the command line, the address it listens on, and a model it cannot use."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request

import numpy as np
import pytest

from cnnlab.cli import main
from cnnlab.serve import is_loopback, make_server
from cnnlab.serve.app import ExplorerServer, _host_name


@pytest.mark.parametrize("host,expected", [
    ("127.0.0.1", True), ("127.1.2.3", True), ("localhost", True), ("LOCALHOST", True), ("::1", True), ("[::1]", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.10", False), ("example.com", False), ("", False),
    ("localhost.evil.example", False), ("127.0.0.1.nip.io", False),
])
def test_is_loopback(host, expected):
    assert is_loopback(host) is expected


@pytest.mark.parametrize("header,host", [("127.0.0.1:8000", "127.0.0.1"), ("localhost", "localhost"),
                                         ("[::1]:8000", "[::1]"), ("[::1]", "[::1]"), ("evil:80", "evil")])
def test_host_name(header, host):
    assert _host_name(header) == host


@pytest.mark.parametrize("port", [-1, 65536, 80.5, True])
def test_make_server_refuses_bad_ports(port):
    with pytest.raises(ValueError, match="port must be from 0 to 65535"):
        make_server("127.0.0.1", port, preload=False)


def test_cli_bad_port(capsys):
    assert main(["serve", "--port", "70000"]) == 2
    assert "cnnlab serve: error: serve: port must be from 0 to 65535 (got 70000)" in capsys.readouterr().err


def test_cli_port_in_use(capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        assert main(["serve", "--port", str(s.getsockname()[1])]) == 2
    assert "cannot listen on 127.0.0.1:" in capsys.readouterr().err


def test_cli_warns_off_loopback(monkeypatch, capsys):
    def stop(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ExplorerServer, "serve_forever", stop)
    assert main(["serve", "--host", "0.0.0.0", "--port", "0"]) == 0
    out, err = capsys.readouterr()
    assert "warning: listening on 0.0.0.0, not loopback" in err
    assert out.startswith("cnnlab explorer: http://0.0.0.0:") and "stopped" in out
    assert main(["serve", "--port", "0"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and out.startswith("cnnlab explorer: http://127.0.0.1:")


def test_cli_missing_checkpoint(tmp_path, capsys):
    assert main(["serve", "--port", "0", "--checkpoint", str(tmp_path / "nothing")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_cli_checkpoint_of_the_wrong_model(tmp_path, capsys):
    from cnnlab.train import History, TrainConfig, build, save_checkpoint

    config = TrainConfig(out=str(tmp_path))
    model, opt, sched = build(config, 1, num_classes=3)
    save_checkpoint(tmp_path, model, opt, sched, config, 1, History())
    assert main(["serve", "--port", "0", "--checkpoint", str(tmp_path)]) == 2
    assert "needs a model with 10 outputs" in capsys.readouterr().err


def test_cli_serves_until_interrupted():
    """The real command in its own process: prints the URL, answers, stops cleanly on Ctrl-C."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "cnnlab.cli", "serve", "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert line.startswith("cnnlab explorer: http://127.0.0.1:"), (line, proc.stderr.read() if proc.poll() else "")
        url = line.split()[2]
        with urllib.request.urlopen(url + "api/health", timeout=20) as r:
            assert json.loads(r.read()) == {"ok": True}
        with urllib.request.urlopen(url + "conv", timeout=20) as r:
            assert b"Convolution playground" in r.read()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 0 and "stopped" in out and "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_digit_model_is_loaded_once_and_shared():
    srv = make_server("127.0.0.1", 0)
    try:
        first = srv.explorer.model()
        assert srv.explorer.model() is first and srv.explorer.info["model"] == "lenet5"
        assert np.isfinite(srv.explorer.info["test_acc"])
    finally:
        srv.server_close()
