"""A command hook for the CTI tests (see README.md): records what it was given."""
import json
import os
import sys
import time

args = sys.argv[1:]
if "--sleep" in args:
    time.sleep(float(args[args.index("--sleep") + 1]))
stdin = sys.stdin.read()
record = {"argv": sys.argv[1:], "stdin": stdin,
          "env": {k: v for k, v in os.environ.items() if k.startswith("OFFHOOK_")}}
target = os.environ.get("RECORD_TO")
if target:
    with open(target, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
if "--spew" in args:
    sys.stdout.write("y" * int(args[args.index("--spew") + 1]))
print("recorded", record["env"].get("OFFHOOK_EVENT", ""))
if "--fail" in args:
    print("something went wrong", file=sys.stderr)
    sys.exit(3)
