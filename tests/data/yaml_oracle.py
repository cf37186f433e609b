"""Oracle for tests/unit/test_yaml.c: loads each document of a corpus file (documents separated
by '=== name' lines) with PyYAML's yaml.safe_load and prints one line per document:
'OK <json.dumps of the result>' or 'ERR <exception>'. Run with Debian's /usr/bin/python3."""
import json
import re
import sys

import yaml


def main(path):
    data = open(path, "rb").read()
    parts = re.split(rb"^=== (.*)\n", data, flags=re.M)
    for i in range(1, len(parts), 2):
        doc = parts[i + 1]
        try:
            out = "OK " + json.dumps(yaml.safe_load(doc))
        except Exception as e:  # any failure of PyYAML is an expected error for newt too
            out = "ERR " + type(e).__name__ + ": " + str(e).replace("\n", " ")
        print(out)


main(sys.argv[1])
