"""pytest on the pyfastdl found through PYTHONPATH (the sanitized build), not an installed one.

An editable install puts an import hook before the path finders, which would load the installed
package whatever PYTHONPATH says; it is taken out first, then pytest runs with the arguments.
"""

import sys

sys.meta_path[:] = [f for f in sys.meta_path if "RedirectingFinder" not in type(f).__name__]

import pytest  # noqa: E402

import pyfastdl  # noqa: E402

assert "build/sanitize/pkg" in pyfastdl.__file__, f"imported {pyfastdl.__file__}, not the build"
sys.exit(pytest.main(sys.argv[1:]))
