"""A big config file as a user meets it: one whole `wawp-tui` process that loads and
validates every instance and exits, timed from outside.

The command is `rollout restart --dry-run --ids FIRST`: it reads the whole file (every
entry checked, every token registered for redaction), prints a one-instance plan and
sends nothing, so no server is needed. Two shapes of the same fleet: the one an import
writes (a `token_env` shared by all), and the worst case, a distinct token per instance.
"""

from __future__ import annotations

import hashlib
import os
import statistics

from wawp_tui.devtools.bench_status import ChildRun, Product, run_child

#: The variable the import-shaped config names; the bench sets it for its children.
TOKEN_ENV = "WAWP_BENCH_TOKEN"


def instance_id(k: int) -> str:
    return f"B{k:011d}"


def write_config(path: str, instances: int, *, distinct_tokens: bool) -> str:
    """`instances` entries as `wawp-tui import` or a hand-kept file has them (mode 0600)."""
    parts = ['[api]\nbase_url = "http://127.0.0.1:9"\n']
    for k in range(instances):
        if distinct_tokens:
            # (Visibly made up: a bench never writes anything that looks like a real token.)
            token = f'token = "bench-token-{hashlib.blake2b(str(k).encode(), digest_size=12).hexdigest()}"'
        else:
            token = f'token_env = "{TOKEN_ENV}"'
        parts.append(f'\n[[instances]]\nid = "{instance_id(k)}"\nlabel = "Fleet member {k}"\n'
                     f'{token}\ntags = ["eu", "support"]\n')
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("".join(parts))
    return path


def load_once(product: Product, path: str, env: dict[str, str]) -> ChildRun:
    """One whole process over the file; it must succeed and plan the first instance only."""
    run = run_child(product, ["rollout", "restart", "--dry-run", "--ids", instance_id(0),
                              "--config", path], {**env, TOKEN_ENV: "bench-token-shared"})
    if run.code != 0 or b"dry run" not in run.out:
        detail = (run.err or run.out).decode(errors="replace").strip()[-300:]
        raise RuntimeError(f"config load ({product.name}) failed (exit {run.code}): {detail}")
    return run


def load_figures(product: Product, home: str, env: dict[str, str], instances: int,
                 repeats: int) -> dict[str, float]:
    """Median wall and peak RSS of `repeats` loads, for each shape of the config."""
    out: dict[str, float] = {}
    for shape, distinct in (("", False), ("distinct_tokens_", True)):
        path = write_config(f"{home}/config-{shape}{instances}.toml", instances,
                            distinct_tokens=distinct)
        runs = [load_once(product, path, env) for _ in range(repeats)]
        out[f"config_{instances}_{shape}load_s"] = statistics.median(r.wall_s for r in runs)
        out[f"config_{instances}_{shape}rss_mb"] = statistics.median(r.rss_mb for r in runs)
    return out
