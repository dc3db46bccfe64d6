"""Copy the pinned front-end files from node_modules into app/static/vendor (not committed)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "app" / "static" / "vendor"

FILES = {
    "htmx/htmx.min.js": "node_modules/htmx.org/dist/htmx.min.js",
    "bootstrap/bootstrap.min.css": "node_modules/bootstrap/dist/css/bootstrap.min.css",
    "socket.io/socket.io.min.js": "node_modules/socket.io-client/dist/socket.io.min.js",
}


def main() -> int:
    missing = [src for src in FILES.values() if not (ROOT / src).is_file()]
    if missing:
        print("Front-end packages are not installed (run npm ci): " + ", ".join(missing), file=sys.stderr)
        return 1
    for dest, src in FILES.items():
        target = VENDOR / dest
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / src, target)
    print(f"Copied {len(FILES)} front-end files into {VENDOR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
