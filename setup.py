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
        self._forget_earlier_builds()
        info = _buildinfo()
        facts = info.for_build(HERE, self.distribution.get_version())
        target = Path(self.build_lib) / "bot" / info.BUILD_FILE
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(facts) + "\n", encoding="utf-8")
        print(f"avvikelsebot: {info.BUILD_FILE} {facts}")

    def _forget_earlier_builds(self):
        """setuptools reuses build/lib of an earlier build in the same source tree and never
        removes from it: a module deleted since (an upgrade built in the same clone) would
        still ship. Whatever this build did not write is removed."""
        built = {Path(p).resolve() for p in self.get_outputs(include_bytecode=False)}
        for package in {name.split(".")[0] for name in self.packages}:
            for path in sorted((Path(self.build_lib) / package).rglob("*"), reverse=True):
                if path.is_file() and path.resolve() not in built:
                    path.unlink()
                elif path.is_dir() and not any(path.iterdir()):
                    path.rmdir()


setup(cmdclass={"build_py": BuildPyWithCommit})
