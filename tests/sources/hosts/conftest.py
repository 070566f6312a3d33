import pytest
from hostkit import start_sshd


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    """A real OpenSSH server on 127.0.0.1, trusting one fresh key of the current user."""
    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()
