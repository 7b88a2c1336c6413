"""Runs the E-ARK validator (eark-validator, PyPI) on one package folder and prints its report as
JSON. Run by the interpreter of the validator's own venv (.venv-eark, made by `.ci/run`), never
imported by the tests: it imports nothing of the project.

    python eark_validate.py PACKAGE_DIR VOCABULARY_BASE_URL

eark-validator 1.1.3 reads four CSIP vocabularies when `eark_validator.ipxml.schematron` is
imported, with `urllib.request.urlopen("https://earkcsip.dilcis.eu/schema/CSIPVocabulary….xml")`
(module level, no setting, no cache, no local fallback). urlopen goes through the standard
library's global opener, so this script installs one (`urllib.request.install_opener`, public
API) whose first handler answers every https://earkcsip.dilcis.eu/ address from
VOCABULARY_BASE_URL (the test's HTTP server on 127.0.0.1) and refuses every other https address,
before the validator is imported. Nothing else of the validator is touched.
"""
from __future__ import annotations

import sys
import urllib.error
import urllib.request
from pathlib import Path

PUBLISHED = "https://earkcsip.dilcis.eu/"


class LocalVocabularies(urllib.request.BaseHandler):
    handler_order = 100            # before the standard HTTPSHandler (500)

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/") + "/"

    def https_open(self, request: urllib.request.Request):
        url = request.full_url
        if not url.startswith(PUBLISHED):
            raise urllib.error.URLError(f"the tests reach only 127.0.0.1, not {url}")
        assert self.parent is not None
        return self.parent.open(self.base + url[len(PUBLISHED):], timeout=10)


def main(package: str, base: str) -> int:
    urllib.request.install_opener(urllib.request.build_opener(LocalVocabularies(base)))
    from eark_validator.packages import PackageValidator   # fetches the vocabularies now

    report = PackageValidator(Path(package)).validation_report
    sys.stdout.write(report.model_dump_json())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
