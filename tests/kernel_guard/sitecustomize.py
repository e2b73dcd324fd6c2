"""Loaded at start-up by every Python the tests launch (notebook kernels too, via PYTHONPATH):
no connection may leave this machine, exactly as in the test process itself (pytest-socket)."""

from pytest_socket import socket_allow_hosts

socket_allow_hosts(["127.0.0.1", "::1"], allow_unix_socket=True)
