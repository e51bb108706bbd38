import pytest

from services.notify.mailcatcher import free_port

pytestmark = pytest.mark.e2e


@pytest.fixture
def ports():
    return {name: free_port() for name in ("intake", "review", "notify", "smtp")}
