"""Run the s2s benchmarks and write bench/RESULTS.md and bench/results.png.

    python bench/run.py              # everything, full sizes
    python bench/run.py --quick      # small sizes, under two minutes on 2 cores
    python bench/run.py --only gmm   # one workload (name or family), or --only scaling
    python bench/run.py --only hessian  # the Hessian row alone

For each workload: every candidate's gradient is checked against the hand-written one
(a mismatch is printed loudly and marked in RESULTS.md), then the function, s2s's
gradient, the hand-written gradient and each peer are timed round-robin (see
timing.py); ratios are taken per round and medianed.  Also: s2s's cold compile time
(fresh function, SymPy cache cleared, s2s's on-disk cache off),
the cached-call overhead of ``s2s.grad(f, wrt)(...)`` on a tiny input, and tracemalloc
peaks of the function and both NumPy gradients.

The Hessian row (workloads.HESSIANS, ``--only hessian``) runs the same way with Hessians
in place of gradients: ``s2s.hessian(f, wrt)`` (forward mode over the generated
gradient) against a hand-written NumPy Hessian, ``jax.hessian`` and PyTorch's.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import itertools
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

# Idle OpenMP workers (PyTorch's) sleep instead of spinning: with active waiting they
# take a core from whatever candidate runs next (PyTorch itself ran 10x slower when
# interleaved with JAX on 2 cores).  Set before any library loads OpenMP.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import numpy as np  # noqa: E402

import s2s  # noqa: E402
from bench import peers, scaling, timing, workloads  # noqa: E402

RTOL, ATOL = 1e-6, 1e-8
SLOW = 1.15  # s2s/hand-written above this is shown in bold
HEAVY = 2.0  # s2s's peak memory over the function's above this (straight-line code): bold
_fresh = itertools.count()


def say(*parts):
    print(*parts, flush=True)


def loud(message):
    bar = "!" * 78
    print(f"\n{bar}\n!!! {message}\n{bar}\n", file=sys.stderr, flush=True)


def fmt_time(seconds):
    if seconds is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if abs(seconds) >= 0.9995 * scale:  # 999.97 µs prints as 1 ms, not 1e+03 µs
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def fmt_bytes(n):
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} B"


def fmt_ratio(x):
    if x is None:
        return "-"
    return f"{x:.0f}x" if x >= 100 else f"{x:.2f}x" if x >= 0.1 else f"{x:.2g}x"


# --- checks -----------------------------------------------------------------------------

def compare(grads, reference):
    """None if `grads` matches `reference` (np.allclose, rtol 1e-6), else a message."""
    grads = tuple(grads)
    if len(grads) != len(reference):
        return f"{len(grads)} gradients, expected {len(reference)}"
    for i, (g, r) in enumerate(zip(grads, reference)):
        g, r = np.asarray(g, dtype=float), np.asarray(r, dtype=float)
        if g.shape != r.shape:
            return f"gradient {i}: shape {g.shape}, expected {r.shape}"
        if not np.allclose(g, r, rtol=RTOL, atol=ATOL):
            err = np.max(np.abs(g - r)) / max(np.max(np.abs(r)), 1e-300)
            return f"gradient {i}: max |error| / max |reference| = {err:.2e}"
    return None


# --- s2s compile time and cached-call overhead -----------------------------------------

def derivative(workload, func=None):
    """s2s's compiled derivative of `workload`: its gradient, or its Hessian."""
    func = workload.func if func is None else func
    if workload.kind == "hessian":
        return s2s.hessian(func, wrt=workload.wrt[0])
    return s2s.grad(func, wrt=workload.wrt)


def api_name(workload):
    return "s2s.hessian" if workload.kind == "hessian" else "s2s.grad"


def as_tuple(workload, result):
    """s2s's result in the hand-written derivative's form: a tuple."""
    return (result,) if workload.kind == "hessian" else result


def fresh_workload_function(workload):
    """workload.func from a new import of bench/workloads.py (a new function object)."""
    name = f"bench_workloads_fresh_{next(_fresh)}"
    spec = importlib.util.spec_from_file_location(name, HERE / "workloads.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return getattr(module, workload.func.__name__)


def cold_compile(workload, repeats):
    from sympy.core.cache import clear_cache
    times = []
    for _ in range(repeats):
        f = fresh_workload_function(workload)
        clear_cache()
        with scaling.no_disk_cache():  # a real derivation, not a read of s2s's disk cache
            start = time.perf_counter()
            derivative(workload, f)
            times.append(time.perf_counter() - start)
    return times


def cached_call_overhead(workload, g, rounds, target):
    tiny = workload.make("test")
    times = timing.round_robin({
        "grad(f, wrt)": lambda: derivative(workload),
        "grad(f, wrt)(...)": lambda: derivative(workload)(*tiny),
        "g(...)": lambda: g(*tiny),
    }, rounds, target)
    return {"lookup": timing.difference(times, "grad(f, wrt)(...)", "g(...)"),
            "lookup alone": timing.median(times["grad(f, wrt)"]),
            "call": timing.median(times["g(...)"])}


# --- one workload -----------------------------------------------------------------------

def bench_workload(workload, size, rounds, target, peer_names):
    say(f"\n== {workload.name} ({workload.describe(size)})")
    started = time.perf_counter()
    args = workload.make(size)
    result = {"workload": workload, "size": size, "rows": {}, "skipped": {}, "mismatch": {}}

    compile_times = cold_compile(workload, 3)
    result["compile"] = compile_times
    g = derivative(workload)
    result["source_lines"] = g.source.count("\n")
    say(f"   s2s cold compile {fmt_time(statistics.median(compile_times))}")

    reference = tuple(workload.hand(*args))
    candidates = {"function": lambda: workload.func(*args),
                  "hand-written": lambda: workload.hand(*args)}
    problem = compare(as_tuple(workload, g(*args)), reference)
    if problem:
        loud(f"MISMATCH {workload.name}: s2s vs hand-written: {problem}")
        result["mismatch"]["s2s"] = problem
    candidates["s2s"] = lambda: g(*args)

    for name in peer_names:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                c = peers.build(name, workload)
                native = c.prepare(args)
                problem = compare(c.to_numpy(c.run(*native)), reference)
        except peers.Skip as skip:
            result["skipped"][name] = str(skip)
            say(f"   {name}: skipped ({skip})")
            continue
        except Exception as error:  # the peer fails on this workload
            reason = f"fails: {type(error).__name__}: {str(error).strip()[:160]}"
            result["skipped"][name] = reason
            say(f"   {name}: skipped ({reason})")
            continue
        if problem:
            loud(f"MISMATCH {workload.name}: {name} vs hand-written: {problem}")
            result["mismatch"][name] = problem
        candidates[name] = (lambda c, native: lambda: c.run(*native))(c, native)

    times = timing.round_robin(candidates, rounds, target)
    result["times"] = times
    for name in candidates:
        result["rows"][name] = {
            "median": timing.median(times[name]),
            "to_hand": timing.ratio(times, name, "hand-written"),
            "s2s_to": timing.ratio(times, "s2s", name),
        }
        say(f"   {name:14s} {fmt_time(result['rows'][name]['median']):>10s}  "
            f"{fmt_ratio(result['rows'][name]['to_hand'])} of hand-written")

    result["overhead"] = cached_call_overhead(workload, g, max(rounds, 21), target / 2)
    measured = {name: timing.memory(candidates[name])
                for name in ("function", "s2s", "hand-written")}
    result["memory"] = {name: peak for name, (peak, _) in measured.items()}
    result["result bytes"] = {name: kept for name, (_, kept) in measured.items()}
    say(f"   ({time.perf_counter() - started:.1f} s)")
    return result


# --- compile-time scaling ---------------------------------------------------------------

def bench_scaling(quick):
    names = ["straight_10", "straight_100", "loop_100"] + ([] if quick else ["straight_1000"])
    # medians of 5 (3 for the 7 s of 1000 statements): single cold compiles on a shared
    # machine spread by +-15%, as much as the ratio the issue bounds
    repeats = 1 if quick else 5
    out = []
    with tempfile.TemporaryDirectory() as directory:
        scaling.cold_compile(scaling.write(directory, "straight_10"))  # imports, untimed
        for name in names:
            path = scaling.write(directory, name)
            times, g = [], None
            for _ in range(repeats if name != "straight_1000" else min(repeats, 3)):
                seconds, g, f = scaling.cold_compile(path)
                times.append(seconds)
            a, w = scaling.args()
            problem = None
            da, _ = g(a, w)
            v = np.random.default_rng(0).standard_normal(a.shape)
            numeric = (f(a + 1e-6 * v, w) - f(a - 1e-6 * v, w)) / 2e-6
            if not np.isclose(np.vdot(da, v), numeric, rtol=1e-5, atol=1e-8):
                problem = f"d/da {np.vdot(da, v)!r} vs central differences {numeric!r}"
                loud(f"MISMATCH scaling {name}: {problem}")
            out.append({"name": name, "times": times, "lines": g.source.count("\n"),
                        "problem": problem})
            say(f"   {name}: cold compile {fmt_time(statistics.median(times))}, "
                f"{out[-1]['lines']} generated lines")
    return out


# --- report -----------------------------------------------------------------------------

def s2s_state():
    """The commit, and whether s2s/ differs from it (other work in the tree)."""
    try:
        commit = subprocess.run(["git", "-C", str(HERE.parent), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip() or "?"
        dirty = subprocess.run(["git", "-C", str(HERE.parent), "status", "--porcelain", "s2s"],
                               capture_output=True, text=True).stdout.strip()
        return commit + (" (s2s/ modified)" if dirty else "")
    except OSError:
        return "?"


s2s_state_at_start = s2s_state()  # s2s is imported above: this is the code that runs


def environment(command):
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = s2s_state_at_start
    if s2s_state() != s2s_state_at_start:
        commit += " (s2s/ changed on disk during the run; the code imported at the start ran)"
    import scipy
    import sympy
    libs = {"python": platform.python_version(), "numpy": np.__version__,
            "scipy": scipy.__version__, "sympy": sympy.__version__,
            "s2s": f"{s2s.__version__} at {commit}"}
    libs.update(peers.versions())
    threads = {"OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY")}
    try:
        import torch
        threads["torch threads"] = torch.get_num_threads()
    except Exception:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "cpu": cpu, "cores": f"{os.cpu_count()} ({cores} usable)", "libs": libs,
            "threads": threads, "command": command, "platform": platform.platform()}


def write_markdown(path, env, results, scaling_results, options, chart_note, failures=()):
    peer_names = list(peers.PEERS)
    lines = ["# s2s benchmark results", "",
             f"- date: {env['date']}",
             f"- command: `{env['command']}` (from the repository root)",
             f"- CPU: {env['cpu']}, {env['cores']} cores; {env['platform']}",
             "- libraries: " + ", ".join(f"{k} {v}" for k, v in env["libs"].items()),
             f"- timing: {options.rounds} rounds, each timing every candidate once "
             f"(~{options.target * 1e3:.0f} ms of inner iterations, gc off); "
             "times are medians over rounds, ratios are taken per round then medianed",
             "- threads: " + ", ".join(f"{k} {v}" for k, v in env["threads"].items())
             + " (library defaults otherwise: NumPy's BLAS, XLA's and PyTorch's pools)",
             "- peers are timed from their own inputs (JAX device arrays, leaf tensors) "
             "to a finished result (`block_until_ready`); conversion is not timed",
             "- all gradients checked against the hand-written one with "
             f"`np.allclose(rtol={RTOL}, atol={ATOL})` before timing (the Hessian row's "
             "Hessians against the hand-written Hessian)", ""]
    if chart_note:
        lines += [chart_note, ""]
    for name, message in failures:
        lines += [f"**FAILED: {name}**: {message}", ""]
    if results:
        lines += ["## Summary", "",
                  "s2s time divided by each candidate's (below 1: s2s is faster; s2s/hand "
                  f"above {SLOW} in bold); "
                  "compile is cold (fresh function, SymPy cache cleared, s2s's on-disk "
                  "cache off); cached-call "
                  "overhead is the median per-round difference between `s2s.grad(f, wrt)(...)` "
                  "and calling the compiled gradient on the test-size input (noisy when that "
                  "call is long), with the time of `s2s.grad(f, wrt)` alone in parentheses; "
                  "memory is the tracemalloc peak of a gradient over the function's (above "
                  f"{HEAVY:g}x in bold for straight-line code, without loops; where the "
                  f"returned gradient alone is above {HEAVY:g}x, ten Python floats against "
                  "one, that ratio is given beside it: no gradient can be below it)."
                  + (" **Hessian rows** (kind \"hessian\") time the full Hessian "
                     "instead: `s2s.hessian(f, wrt)` against a hand-written NumPy Hessian, "
                     "`jax.hessian` and `torch.autograd.functional.hessian`; their "
                     "compile, overhead and memory are those of `s2s.hessian`."
                     if any(r["workload"].kind == "hessian" for r in results) else ""), "",
                  "| workload | size | s2s/hand | s2s/function | "
                  + " | ".join(f"s2s/{p}" for p in peer_names)
                  + " | compile | cached-call overhead (lookup alone) | memory s2s/function | memory hand/function |",
                  "|---|---|---|---|" + "---|" * len(peer_names) + "---|---|---|---|"]
        for r in results:
            w, rows = r["workload"], r["rows"]
            to_hand = rows["hand-written"]["s2s_to"]
            cells = [w.name, w.describe(r["size"]),
                     f"**{fmt_ratio(to_hand)}**" if to_hand > SLOW else fmt_ratio(to_hand),
                     fmt_ratio(rows["function"]["s2s_to"])]
            for p in peer_names:
                cells.append(fmt_ratio(rows[p]["s2s_to"]) if p in rows else "skipped")
            mem = r["memory"]
            heavy = mem["s2s"] / max(mem["function"], 1)
            floor = r["result bytes"]["s2s"] / max(mem["function"], 1)  # the result alone
            cells += [fmt_time(statistics.median(r["compile"])),
                      f"{fmt_time(r['overhead']['lookup'])} ({fmt_time(r['overhead']['lookup alone'])})",
                      f"{fmt_ratio(heavy)} (result alone {fmt_ratio(floor)})" if floor > HEAVY
                      else f"**{fmt_ratio(heavy)}**" if heavy > HEAVY and w.kind == "grad" and
                      not w.loop else fmt_ratio(heavy),
                      fmt_ratio(mem["hand-written"] / max(mem["function"], 1))]
            if w.kind == "hessian":
                cells[0] += " (**Hessian**)"
            if r["mismatch"]:
                cells[0] += " **MISMATCH**"
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    for r in results:
        w, rows = r["workload"], r["rows"]
        api, what = api_name(w), "Hessian" if w.kind == "hessian" else "gradient"
        lines += [f"## {w.name}: {w.describe(r['size'])}", ""]
        if w.kind == "hessian":
            lines += [f"**Hessian row**: every candidate computes the full Hessian of "
                      f"`{w.func.__name__}` wrt {w.wrt[0]} and is checked against a "
                      "hand-written NumPy Hessian (`np.diag` of its three diagonals). "
                      "s2s: `s2s.hessian(f, wrt)`, forward mode over the generated "
                      "gradient, one sweep with the whole basis as a batch of tangents; jax: `jax.hessian` "
                      "(jacfwd over jacrev), unjitted and under `jax.jit`; torch: "
                      "`torch.autograd.functional.hessian` (default, one backward of the "
                      "gradient per input element). The forward-over-reverse code s2s "
                      f"runs is {r['source_lines']} lines of generated source.", ""]
        else:
            lines += [f"`{w.func.__name__}` wrt {', '.join(w.wrt)}; s2s's gradient is "
                      f"{r['source_lines']} lines of generated source.", ""]
        lines += [
                  "| candidate | median time | time / hand-written | s2s / candidate | check |",
                  "|---|---|---|---|---|"]
        for name, row in rows.items():
            check = "-" if name in ("function", "hand-written") else \
                f"**MISMATCH: {r['mismatch'][name]}**" if name in r["mismatch"] else "ok"
            lines.append(f"| {name} | {fmt_time(row['median'])} | {fmt_ratio(row['to_hand'])} "
                         f"| {fmt_ratio(row['s2s_to'])} | {check} |")
        for name, reason in r["skipped"].items():
            lines.append(f"| {name} | skipped ({reason.replace('|', '/')}) | | | |")
        c, o, m = r["compile"], r["overhead"], r["memory"]
        lines += ["",
                  f"- s2s cold compile: median {fmt_time(statistics.median(c))} of "
                  f"{len(c)} ({', '.join(fmt_time(t) for t in c)})",
                  f"- cached-call overhead on the test-size input: `{api}(f, wrt)(...)` "
                  f"costs {fmt_time(o['lookup'])} more than calling the compiled {what} "
                  f"(itself {fmt_time(o['call'])}); `{api}(f, wrt)` alone takes "
                  f"{fmt_time(o['lookup alone'])}",
                  f"- tracemalloc peak: function {fmt_bytes(m['function'])}, s2s {what} "
                  f"{fmt_bytes(m['s2s'])} ({fmt_ratio(m['s2s'] / max(m['function'], 1))}), "
                  f"hand-written {fmt_bytes(m['hand-written'])} "
                  f"({fmt_ratio(m['hand-written'] / max(m['function'], 1))}); the {what} "
                  f"s2s returns holds {fmt_bytes(r['result bytes']['s2s'])}, the function's "
                  f"result {fmt_bytes(r['result bytes']['function'])}", ""]
    if scaling_results:
        lines += ["## Compile-time scaling", "",
                  "Generated functions of 4x4 arrays (bench/scaling.py): N straight-line "
                  "statements mixing elementwise ops with a matmul or sum every 10th, and "
                  "a 5-step loop whose body has 100 statements. Cold `s2s.grad(f, wrt=('a', "
                  "'w'))` on a fresh import, SymPy cache cleared, s2s's on-disk cache off; "
                  "the gradient is checked "
                  "against central differences.", "",
                  "| function | cold compile (median) | runs | generated lines | check |",
                  "|---|---|---|---|---|"]
        for s in scaling_results:
            lines.append(f"| {s['name']} | {fmt_time(statistics.median(s['times']))} | "
                         f"{', '.join(fmt_time(t) for t in s['times'])} | {s['lines']} | "
                         f"{'**MISMATCH: ' + s['problem'] + '**' if s['problem'] else 'ok'} |")
        medians = {s["name"]: statistics.median(s["times"]) for s in scaling_results}
        if "straight_1000" in medians:
            ratio = medians["straight_1000"] / medians["straight_100"]
            lines += ["", f"1000 statements take {ratio:.1f}x the time of 100 (linear: 10x; "
                      "the issue's bound: 12x)."]
        if options.quick:
            lines.append("\n(--quick leaves out straight_1000.)")
        lines.append("")
    Path(path).write_text("\n".join(lines))


def write_chart(path, results):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:
        return f"(No chart: matplotlib is not installed: {error}.)"
    series = ["function", "s2s"] + list(peers.PEERS)
    width = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(max(8, 1.3 * len(results) + 2), 5))
    for i, name in enumerate(series):
        xs, ys = [], []
        for j, r in enumerate(results):
            if name in r["rows"]:
                xs.append(j + (i - (len(series) - 1) / 2) * width)
                ys.append(r["rows"][name]["to_hand"])
        ax.bar(xs, ys, width, label=name, color=f"C{i}")
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_xticks(range(len(results)))
    ax.set_xticklabels([r["workload"].name for r in results], rotation=30, ha="right")
    ax.set_ylabel("time / hand-written NumPy gradient (log)"
                  + ("\n(Hessian rows: / hand-written Hessian)"
                     if any(r["workload"].kind == "hessian" for r in results) else ""))
    ax.set_title("Gradient time relative to the hand-written NumPy gradient")
    ax.legend(fontsize="small", ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, fewer rounds")
    parser.add_argument("--only", metavar="NAME",
                        help="one workload, by name or family (e.g. gmm), or 'scaling'")
    parser.add_argument("--rounds", type=int, help="timing rounds (default 7 quick, 15 full)")
    parser.add_argument("--target", type=float, help="seconds per sample (default 0.005 "
                        "quick, 0.015 full)")
    parser.add_argument("--out", default=str(HERE / "RESULTS.md"))
    options = parser.parse_args(argv)
    options.rounds = options.rounds or (7 if options.quick else 15)
    options.target = options.target or (0.005 if options.quick else 0.015)
    command = "python bench/run.py" + "".join(" " + shlex.quote(a) for a in sys.argv[1:])

    chosen = [] if options.only == "scaling" else workloads.select(options.only, options.quick)
    if options.only not in (None, "scaling") and not chosen:
        parser.error(f"no workload named {options.only!r}; choose from "
                     + ", ".join(sorted({w.name for w in workloads.select()}
                                        | {w.family for w in workloads.select()}))
                     + ", scaling")
    size = "quick" if options.quick else "full"
    start = time.perf_counter()
    results, failures = [], []
    for w in chosen:
        try:
            results.append(bench_workload(w, size, options.rounds, options.target, peers.PEERS))
        except Exception as error:  # s2s refuses or crashes on it: report, go on
            failures.append((w.name, f"{type(error).__name__}: {error}"))
            loud(f"FAILED {w.name}: {failures[-1][1]}")
    scaling_results = None
    if options.only in (None, "scaling"):
        say("\n== compile-time scaling")
        scaling_results = bench_scaling(options.quick)

    env = environment(command)
    chart_note = None
    if results:
        chart = Path(options.out).resolve().parent / "results.png"
        chart_note = write_chart(chart, results)
        if chart_note is None:
            chart_note = f"![time / hand-written, log scale]({chart.name})"
    write_markdown(options.out, env, results, scaling_results, options, chart_note, failures)
    mismatches = [(r["workload"].name, k) for r in results for k in r["mismatch"]] + \
        [("scaling", s["name"]) for s in scaling_results or () if s["problem"]]
    say(f"\nwrote {options.out} in {time.perf_counter() - start:.0f} s")
    if mismatches or failures:
        loud("gradient MISMATCHES: " + ", ".join(f"{a}/{b}" for a, b in mismatches)
             + "; FAILED: " + ", ".join(name for name, _ in failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
