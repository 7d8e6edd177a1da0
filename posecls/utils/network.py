"""Local networking helpers (Triton server ports, torch.distributed master ports in tests)."""
import socket

__all__ = ['free_port']


def free_port() -> int:
    """A TCP port on localhost that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]
