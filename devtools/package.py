"""The deployment package, built the way `func azure functionapp publish` builds it.

Core Tools zips the app folder minus what `.funcignore` excludes. Its matcher is not git's:
each pattern becomes a regular expression anchored at the start of the path only (so `docs`
also drops `docs/openapi.json` and `docsfoo`), `**` is any text and `*` any text without `/`,
a `!pattern` that matches wins, and a few names are always left out. `FuncIgnore` follows those
rules (Azure.Functions.Cli GitIgnoreParser and FileSystemHelpers.GetLocalFiles) so what this
module builds is what Azure receives.

`python -m devtools.package [--out dist]` writes `dist/package/` (the files) and
`dist/certsync.zip` (what publishing uploads), and prints their size and file count.
"""
from __future__ import annotations

import argparse
import re
import shutil
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Left out at any depth whatever .funcignore says (Core Tools' GetLocalFiles).
ALWAYS_IGNORED_DIRECTORIES = frozenset({".git", ".vscode"})
ALWAYS_IGNORED_FILES = frozenset({".funcignore", ".gitignore", "local.settings.json", "project.lock.json"})
_SPECIAL = re.compile(r"[\-\[\]/{}()+?.\\^$|]")
_NEVER = re.compile(r"$^")


def _pattern_regex(pattern: str) -> str:
    escaped = _SPECIAL.sub(lambda m: "\\" + m.group(0), pattern)
    return escaped.replace("**", "(.+)").replace("*", "([^/]+)")


def _compile(patterns: list[str]) -> re.Pattern[str]:
    if not patterns:
        return _NEVER
    return re.compile("^((" + ")|(".join(_pattern_regex(p) for p in sorted(patterns)) + "))")


@dataclass(frozen=True)
class FuncIgnore:
    """The rules of one `.funcignore` file."""

    excluded: re.Pattern[str]
    included: re.Pattern[str]

    @classmethod
    def parse(cls, text: str) -> FuncIgnore:
        excluded: list[str] = []
        included: list[str] = []
        for raw in text.split("\n"):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            target = included if line.startswith("!") else excluded
            line = line.removeprefix("!").removeprefix("/")
            target.append(line)
        return cls(_compile(excluded), _compile(included))

    def accepts(self, relative_path: str) -> bool:
        """Whether a file (path relative to the app root, `/`-separated) goes into the package."""
        return bool(self.included.match(relative_path)) or not self.excluded.match(relative_path)


@dataclass(frozen=True)
class PackageSummary:
    files: tuple[str, ...]
    total_bytes: int


def package_files(root: Path = ROOT) -> list[str]:
    """Relative paths of every file publishing would upload, sorted."""
    ignore_file = root / ".funcignore"
    rules = FuncIgnore.parse(ignore_file.read_text(encoding="utf-8")) if ignore_file.exists() else FuncIgnore.parse("")
    chosen = []
    for path in _walk(root):
        relative = path.relative_to(root).as_posix()
        if rules.accepts(relative):
            chosen.append(relative)
    return sorted(chosen)


def _walk(folder: Path) -> list[Path]:
    found: list[Path] = []
    for entry in sorted(folder.iterdir()):
        name = entry.name.lower()
        if entry.is_dir():
            if name not in ALWAYS_IGNORED_DIRECTORIES:
                found.extend(_walk(entry))
        elif entry.is_file() and name not in ALWAYS_IGNORED_FILES:
            found.append(entry)
    return found


def build_package(destination: Path, root: Path = ROOT) -> PackageSummary:
    """Copy the package's files into `destination` (emptied first)."""
    if destination.exists():
        shutil.rmtree(destination)
    files = package_files(root)
    total = 0
    for relative in files:
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / relative, target)
        total += target.stat().st_size
    return PackageSummary(tuple(files), total)


def write_zip(package_dir: Path, files: tuple[str, ...], zip_path: Path) -> None:
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for relative in files:
            archive.write(package_dir / relative, relative)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.package", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="output folder (default: dist)")
    args = parser.parse_args(argv)
    package_dir = args.out / "package"
    summary = build_package(package_dir)
    zip_path = args.out / "certsync.zip"
    write_zip(package_dir, summary.files, zip_path)
    print(f"{package_dir}: {len(summary.files)} files, {summary.total_bytes / 1024:.0f} KiB")
    print(f"{zip_path}: {zip_path.stat().st_size / 1024:.0f} KiB (what `func azure functionapp publish` uploads)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
