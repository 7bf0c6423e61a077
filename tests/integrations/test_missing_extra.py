from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

pytest.importorskip("torch")


@pytest.mark.parametrize("module, library", [
    ("gaplab.integrations.transformers", "transformers"),
    ("gaplab.integrations.lightning", "lightning.pytorch"),
    ("gaplab.integrations.torchmetrics", "torchmetrics"),
])
def test_missing_library_names_the_extra(monkeypatch, module, library):
    monkeypatch.setitem(sys.modules, library, None)  # makes `import library` raise ImportError
    monkeypatch.delitem(sys.modules, module, raising=False)
    with pytest.raises(ImportError) as err:
        importlib.import_module(module)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"{module} needs {library.split('.')[0]}, which is not installed: "
                              "pip install 'gaplab[integrations]'")
    assert err.value.name == library.split(".")[0]


def test_package_imports_no_library():
    code = ("import sys, gaplab.integrations, gaplab.metrics.tracker; "
            "print(sorted(m for m in ('torch', 'transformers', 'lightning', 'torchmetrics') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
