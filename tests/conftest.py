import sys

import pytest


TORCHRUN = f"{sys.executable} -m torch.distributed.run"


@pytest.fixture
def dump_env_script(tmp_path):
    """A training script that writes its environment to $SIMDIST_TEST_OUT/rank<RANK>.json."""
    script = tmp_path / "dump_env.py"
    script.write_text(
        "import json, os\n"
        "path = os.path.join(os.environ['SIMDIST_TEST_OUT'], 'rank%s.json' % os.environ['RANK'])\n"
        "with open(path, 'w') as f:\n"
        "    json.dump(dict(os.environ), f)\n"
    )
    out = tmp_path / "out"
    out.mkdir()
    return script, out
