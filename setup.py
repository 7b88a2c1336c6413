"""Everything about the package is in pyproject.toml; this file adds one step to the build:
bot/_build.json in the wheel records the commit it was built from (bot/buildinfo.py says how),
so `avvikelsebot --version` names it where there is no .git at run time."""
import importlib.util
import json
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


def _buildinfo():
    spec = importlib.util.spec_from_file_location("_avvikelsebot_buildinfo",
                                                  HERE / "bot" / "buildinfo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class BuildPyWithCommit(build_py):
    def run(self):
        super().run()
        info = _buildinfo()
        facts = info.for_build(HERE, self.distribution.get_version())
        target = Path(self.build_lib) / "bot" / info.BUILD_FILE
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(facts) + "\n", encoding="utf-8")
        print(f"avvikelsebot: {info.BUILD_FILE} {facts}")


setup(cmdclass={"build_py": BuildPyWithCommit})
