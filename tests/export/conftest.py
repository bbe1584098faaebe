import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models gain nothing from threads, and on a shared 2-core machine spinning worker
    threads made these tests 5x slower; restore the setting for the other test folders."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
