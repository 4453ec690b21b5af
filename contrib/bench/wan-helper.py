#!/usr/bin/env python3
"""contrib/bench/wan-helper.py: small tools for the WAN cases of contrib/bench/wan.sh.

Python 3 standard library only. Subcommands:

  mkfiles DIR COUNT SIZE [--random]
      Creates DIR/f00000 ... (COUNT files of SIZE bytes; random bytes with --random, else a
      line of text repeated), with whole-second mtimes an hour ago and 7 s apart, so that
      listings that lose seconds (LIST: "Dec 07 18:02") show up as inexact.
  mtimes DIR
      Sets the same kind of whole-second mtimes on every file below DIR (sorted by path).
  check-list FORMAT OUT ROOT
      Checks a listing in OUT against the files below ROOT (relative paths, files only) and
      prints "entries=N sizes_ok=N times_exact=N missing=N extra=N". FORMAT:
        printf  lines "SIZE EPOCH RELPATH" (find -printf '%s %T@ %P\\n')
        long    lines "... SIZE EPOCH PATH" (ls -l --time-style=+%s, lftp find -l with
                cmd:time-style +%s) or "... SIZE YYYY-MM-DD HH:MM:SS PATH" (UTC; lftp find -l
                when it knows the time only to the minute); directories, "total" lines and a
                leading "ROOTNAME/" of PATH are skipped
      Exits 1 if an entry is missing, unknown or has the wrong size (times are only counted).
  randread FILE LOCAL COUNT SEED
      Opens FILE (through a mount), then reads 4 KiB with os.pread at COUNT random offsets
      (4 KiB aligned, seeded), timing each; compares every read with LOCAL (the server's
      copy). Prints one line per read, then "median_ms=.. min_ms=.. max_ms=..". Exit 1 on a
      wrong byte.
  randread-curl URL LOCAL COUNT SEED USER:PASS
      The same reads with one `curl -r` each (a new connection and login per read, as a plain
      client without a session would do).
"""

import datetime
import os
import random
import re
import statistics
import subprocess
import sys
import time

BLOCK = 4096


def mtime_for(i, base):
    return base - 7 * i


def cmd_mkfiles(d, count, size, rnd):
    os.makedirs(d, exist_ok=True)
    base = int(time.time()) - 3600
    width = max(3, len(str(count - 1)))
    for i in range(count):
        p = os.path.join(d, f"f{i:0{width}d}")
        if rnd:
            data = os.urandom(size)
        else:
            line = f"file {i} of {count}\n".encode()
            data = (line * (size // len(line) + 1))[:size]
        with open(p, "wb") as f:
            f.write(data)
        t = mtime_for(i, base)
        os.utime(p, (t, t))


def cmd_mtimes(d):
    base = int(time.time()) - 3600
    paths = []
    for dirpath, _, files in os.walk(d):
        paths += [os.path.join(dirpath, f) for f in files]
    for i, p in enumerate(sorted(paths)):
        t = mtime_for(i, base)
        os.utime(p, (t, t))


def local_files(root):
    out = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = os.path.join(dirpath, f)
            st = os.stat(p)
            out[os.path.relpath(p, root)] = (st.st_size, st.st_mtime)
    return out


def cmd_check_list(fmt, out_path, root):
    want = local_files(root)
    rootname = os.path.basename(os.path.normpath(root)) + "/"
    seen = {}
    bad_lines = 0
    with open(out_path, encoding="utf-8", errors="replace") as f:
        for line in f:
            fields = line.split()
            if not fields:
                continue
            try:
                if fmt == "printf":
                    size, epoch, path = int(fields[0]), float(fields[1]), " ".join(fields[2:])
                else:
                    if fields[0] == "total" or fields[0].startswith("d") or len(fields) < 4:
                        continue
                    if re.fullmatch(r"\d{4}-\d\d-\d\d", fields[-3]):
                        # lftp ignores cmd:time-style for times it only knows to the minute
                        # (LIST): "SIZE YYYY-MM-DD HH:MM:SS PATH", in UTC (TZ=UTC)
                        t = datetime.datetime.strptime(fields[-3] + " " + fields[-2], "%Y-%m-%d %H:%M:%S")
                        size, path = int(fields[-4]), fields[-1]
                        epoch = t.replace(tzinfo=datetime.timezone.utc).timestamp()
                    else:
                        size, epoch, path = int(fields[-3]), float(fields[-2]), fields[-1]
                    if path.startswith(rootname):
                        path = path[len(rootname):]
            except ValueError:
                bad_lines += 1
                continue
            seen[path] = (size, epoch)
    sizes_ok = sum(1 for p, (s, _) in seen.items() if p in want and want[p][0] == s)
    times_exact = sum(1 for p, (_, t) in seen.items() if p in want and abs(want[p][1] - t) < 1)
    missing = len(set(want) - set(seen))
    extra = len(set(seen) - set(want))
    print(f"entries={len(seen)} sizes_ok={sizes_ok} times_exact={times_exact} missing={missing} "
          f"extra={extra} unparsed={bad_lines}")
    return 0 if (missing == 0 and extra == 0 and sizes_ok == len(want)) else 1


def offsets(size, count, seed):
    rng = random.Random(seed)
    blocks = size // BLOCK
    return [rng.randrange(blocks) * BLOCK for _ in range(count)]


def report(times, wrong):
    ms = [t * 1000 for t in times]
    print(f"median_ms={statistics.median(ms):.1f} min_ms={min(ms):.1f} max_ms={max(ms):.1f} wrong={wrong}")
    return 1 if wrong else 0


def cmd_randread(path, local, count, seed):
    size = os.path.getsize(local)
    times, wrong = [], 0
    with open(local, "rb") as ref:
        fd = os.open(path, os.O_RDONLY)
        try:
            for off in offsets(size, count, seed):
                t0 = time.perf_counter()
                data = os.pread(fd, BLOCK, off)
                dt = time.perf_counter() - t0
                times.append(dt)
                ok = data == os.pread(ref.fileno(), BLOCK, off)
                wrong += not ok
                print(f"read offset={off} ms={dt * 1000:.1f}{'' if ok else ' WRONG'}")
        finally:
            os.close(fd)
    return report(times, wrong)


def cmd_randread_curl(url, local, count, seed, userpass):
    size = os.path.getsize(local)
    times, wrong = [], 0
    with open(local, "rb") as ref:
        for off in offsets(size, count, seed):
            t0 = time.perf_counter()
            r = subprocess.run(["curl", "-sS", "--user", userpass, "-r", f"{off}-{off + BLOCK - 1}", url],
                               stdout=subprocess.PIPE, check=False)
            dt = time.perf_counter() - t0
            times.append(dt)
            ok = r.returncode == 0 and r.stdout == os.pread(ref.fileno(), BLOCK, off)
            wrong += not ok
            print(f"read offset={off} ms={dt * 1000:.1f}{'' if ok else ' WRONG'}")
    return report(times, wrong)


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd, a = argv[1], argv[2:]
    if cmd == "mkfiles":
        cmd_mkfiles(a[0], int(a[1]), int(a[2]), "--random" in a[3:])
        return 0
    if cmd == "mtimes":
        cmd_mtimes(a[0])
        return 0
    if cmd == "check-list":
        return cmd_check_list(a[0], a[1], a[2])
    if cmd == "randread":
        return cmd_randread(a[0], a[1], int(a[2]), int(a[3]))
    if cmd == "randread-curl":
        return cmd_randread_curl(a[0], a[1], int(a[2]), int(a[3]), a[4])
    sys.exit(f"unknown subcommand {cmd!r}\n\n{__doc__}")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
