"""Finding a Java runtime for the PMML engines (JPMML via JPype, PMML4S via py4j)."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from workbench.core import processes
from workbench.core.runtimes.base import Availability

MIN_JAVA = 11
JAVA_HINT = "install a JRE 11 or newer, e.g. apt-get install default-jre-headless"


@dataclass(frozen=True)
class JavaInstall:
    """A usable `java` executable, its home, major version and libjvm (for in-process JVMs)."""

    executable: str
    home: str
    version: int | None
    libjvm: str | None


def _version_of(executable: str) -> tuple[int | None, str]:
    try:
        proc = processes.run([executable, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    text = proc.stderr + proc.stdout
    match = re.search(r'version "(\d+)(?:\.(\d+))?', text)
    if not match:
        return None, text.strip().splitlines()[0] if text.strip() else f"exit code {proc.returncode}"
    major = int(match.group(1))
    if major == 1 and match.group(2):  # "1.8.0_392" is Java 8
        major = int(match.group(2))
    return major, ""


def _libjvm(home: Path) -> str | None:
    for rel in ("lib/server/libjvm.so", "jre/lib/server/libjvm.so", "jre/lib/amd64/server/libjvm.so",
                "lib/server/libjvm.dylib", "bin/server/jvm.dll"):
        candidate = home / rel
        if candidate.exists():
            return str(candidate)
    found = sorted(home.glob("**/libjvm.so"))
    return str(found[0]) if found else None


def _candidates() -> list[str]:
    out = []
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        exe = Path(java_home) / "bin" / "java"
        if exe.exists():
            out.append(str(exe))
    found = shutil.which("java")
    if found:
        out.append(found)
    return out


@functools.cache
def find_java() -> JavaInstall | None:
    """The first `java` on JAVA_HOME or PATH (cached for the process)."""
    for exe in _candidates():
        real = Path(os.path.realpath(exe))
        home = real.parent.parent
        version, _ = _version_of(str(real))
        return JavaInstall(executable=str(real), home=str(home), version=version, libjvm=_libjvm(home))
    return None


@functools.cache
def java_availability() -> Availability:
    """Whether a Java 11+ runtime is here (cached); the reason and hint when not."""
    java = find_java()
    if java is None:
        return Availability(False, "Java not found", JAVA_HINT)
    if java.version is None:
        return Availability(False, f"Java at {java.executable} does not run or report its version", JAVA_HINT)
    if java.version < MIN_JAVA:
        return Availability(False, f"Java {java.version} found at {java.executable}, the PMML engines need "
                                   f"Java {MIN_JAVA} or newer", JAVA_HINT)
    return Availability(True)
