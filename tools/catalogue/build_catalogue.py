#!/usr/bin/env python3
"""Builds Halfhour's own form of the MHHS interface catalogue from the reference files.

    python3 tools/catalogue/build_catalogue.py [REFERENCE_DIR] [OUTPUT]

Defaults: ../shared/reference next to the repository, and
src/Halfhour.Market/Catalogue/Specification/catalogue.json.

A development step, not a build step (CI has only .NET): run it when the specification
changes and commit the output. What it keeps of the specification is exactly what a
validator and a router need -- interface IDs, roles, event codes, schema versions and the
validation keywords of every payload schema. It drops every description and example
(the product must not carry the specification's prose) and the `format` keyword, which
JSON Schema treats as an annotation, not an assertion.
"""
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

# The validation keywords the specification uses (surveyed over every schema); each is
# carried as is. Anything else is either prose (description, example), an annotation
# (format), or structure handled below (properties, items, $ref, oneOf, additionalProperties).
KEPT_KEYWORDS = ("type", "nullable", "minLength", "maxLength", "pattern", "enum",
                 "minimum", "maximum", "multipleOf", "minItems", "maxItems", "required")
IGNORED_KEYWORDS = ("description", "example", "format")

# Market rules the schema cannot say, attached to the data types they apply to.
SEMANTIC_RULES = {
    "DT-002-MPAN": "mpan", "DT-002N-MPAN": "mpan",
    "DT-003-DateTime": "datetime", "DT-003N-DateTime": "datetime",
    "DT-021-Date": "date", "DT-021N-Date": "date",
}

ROLES = ["SUP", "LDSO", "REGS", "SDS", "ADS", "UMSDS", "MSS", "MSA", "UMSO", "LSS", "MDS",
         "ISD", "EES", "MDR", "DCC", "ECS", "VAS", "DIP"]

# Role phrases of the catalogue's sender/receiver text that carry no role code, longest first.
ROLE_PHRASES = [
    ("Public (All Roles)", ROLES[:-1]),
    ("Public (via separate file-sharing mechanism)", []),
    ("Incumbent Metering Service", ["MSS", "MSA"]),
    ("Marketwide Data Service", ["MDS"]),
    ("Market-wide Data Service", ["MDS"]),
    ("Smart Data Service", ["SDS"]),
    ("Advanced Data Service", ["ADS"]),
    ("Advanced Metering Service", ["MSA"]),
    ("Smart Metering Service", ["MSS"]),
    ("Metering Service Smart", ["MSS"]),
    ("Metering Service Advanced", ["MSA"]),
    ("Unmetered Supplies Operator", ["UMSO"]),
    ("Load Shaping Service", ["LSS"]),
    ("Registration Service", ["REGS"]),
    ("Elexon Central Services", ["ECS"]),
    ("Data Communications Company", ["DCC"]),
    ("Meter Data Retriever", ["MDR"]),
    ("Meter Data Retreiver", ["MDR"]),
    ("DIP Replay Service", ["DIP"]),
    ("Distributor", ["LDSO"]),
    ("Supplier", ["SUP"]),
    ("Data Service", ["SDS", "ADS", "UMSDS"]),
    ("Metering Service", ["MSS", "MSA", "UMSO"]),
    ("MS", ["MSS", "MSA"]),
    ("DS", ["SDS", "ADS"]),
    ("DIP", ["DIP"]),
]

# Interfaces the catalogue transcription does not cover: the specification names them only
# in its channel list, so their roles are read from those titles (see the report for why).
NOT_IN_CATALOGUE = {
    "IF-051": ("EES Refresh", ["REGS"], ["EES"]),
    "REP-002": ("LDSO report for DUoS (LDSO) - aggregated data", ["ECS"], ["LDSO"]),
    "REP-002A": ("Embedded Network report for DUoS - aggregated data", ["ECS"], ["LDSO"]),
    "REP-002B": ("LDSO report for DUoS (Supplier) - aggregated data", ["ECS"], ["SUP"]),
    "REP-003": ("BM Unit Allocated Demand Volumes to Market Participants", ["ECS"], ["SUP"]),
    "REP-003A": ("Aggregated BM Unit Allocated Demand Volumes to Market Participants", ["ECS"], ["SUP"]),
    "REP-004": ("Supplier Deemed Take Report", ["ECS"], ["SUP"]),
    "REP-006": ("Aggregated Uncorrected volumes by CCC to Market Participants", ["ECS"], ["SUP"]),
    "REP-007": ("VAS Exception Report to Suppliers", ["ECS"], ["SUP"]),
    "REP-008": ("MDS Exception Report to LDSOs", ["ECS"], ["LDSO"]),
    "REP-009": ("EMRS Report for Suppliers", ["ECS"], ["SUP"]),
    "REP-900": ("LDSO E-bill Distribution Invoice I", ["ECS"], ["LDSO", "SUP"]),
    "REP-901": ("LDSO E-bill Distribution Invoice II", ["ECS"], ["LDSO", "SUP"]),
}


def roles_named_in(text):
    """The role codes a sender/receiver text names, by code or by phrase."""
    found = []
    rest = text
    for phrase, codes in ROLE_PHRASES:
        pattern = r"(?<![A-Za-z])" + re.escape(phrase) + r"(?![A-Za-z])"
        if re.search(pattern, rest):
            found.extend(codes)
            rest = re.sub(pattern, " ", rest)
    for code in ROLES:
        if re.search(r"(?<![A-Za-z])" + code + r"(?![A-Za-z])", rest):
            found.append(code)
    return [r for r in ROLES if r in found]


def main():
    ref = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(REPO), "shared", "reference")
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        REPO, "src", "Halfhour.Market", "Catalogue", "Specification", "catalogue.json")
    spec = json.load(open(os.path.join(ref, "dip-api-2.2.1.json"), encoding="utf-8"))
    catalogue = json.load(open(os.path.join(ref, "mhhs-interface-catalogue.json"), encoding="utf-8"))
    schemas = spec["components"]["schemas"]

    used = set()

    def ref_name(node):
        return node["$ref"].rsplit("/", 1)[-1]

    def convert(node):
        """A schema in the project's own form: a type name, or an inline node."""
        if "$ref" in node:  # OpenAPI 3.0: siblings of $ref are ignored
            name = ref_name(node)
            if name not in used:
                used.add(name)
                types[name] = None  # reserve, so cycles terminate
                types[name] = convert_inline(schemas[name], name)
            return name
        return convert_inline(node, None)

    def convert_inline(node, name):
        own = {}
        for key, value in node.items():
            if key in KEPT_KEYWORDS:
                if key == "nullable" and not value:
                    continue
                own[key] = value
            elif key == "properties":
                own["properties"] = {k: convert(v) for k, v in value.items()}
            elif key == "items":
                own["items"] = convert(value)
            elif key == "additionalProperties":
                if value is not False:
                    raise SystemExit(f"additionalProperties other than false is not modelled ({name})")
                own["closed"] = True
            elif key == "oneOf":
                own["oneOf"] = [convert(v) for v in value]
            elif key in IGNORED_KEYWORDS:
                continue
            else:
                raise SystemExit(f"keyword {key!r} is not modelled ({name})")
        if name in SEMANTIC_RULES:
            own["rule"] = SEMANTIC_RULES[name]
        return own

    types = {}
    names = {}
    for item in catalogue:
        interface_id, pub = item["id"].split("/")
        names[interface_id] = (item["name"], pub.strip(),
                               roles_named_in(item["sender"]), roles_named_in(item["receiver"]))

    interface_ids = schemas["DT-000-InterfaceID"]["enum"]
    interfaces = []
    for interface_id in interface_ids:
        payload_name = interface_id + "-Payload"
        payload = schemas[payload_name]
        variants = [ref_name(v) for v in payload["oneOf"]] if "oneOf" in payload else [payload_name]
        events = []
        for variant in variants:
            convert({"$ref": "#/components/schemas/" + variant})
            common = schemas[variant]["properties"]["CommonBlock"]
            s0 = common["properties"]["S0"]["properties"]
            about_mpan = "M0" in common.get("required", [])
            for code in s0["eventCode"]["enum"]:
                events.append({
                    "code": code.strip("[]"),
                    "versions": s0["schemaVersion"]["enum"],
                    "payload": variant,
                    "mpan": about_mpan,
                })
        if interface_id in names:
            name, pub, sends, receives = names[interface_id]
        else:
            name, sends, receives = NOT_IN_CATALOGUE[interface_id]
            # Reports have no PUB- number of their own; the report ID is what is published.
            pub = "PUB-" + interface_id[3:] if interface_id.startswith("IF-") else interface_id
        interfaces.append({"id": interface_id, "name": name, "publication": pub,
                           "sends": sends, "receives": receives, "events": events})

    for block in ("S1", "A0", "D0", "M0"):
        convert({"$ref": "#/components/schemas/" + block})

    own = {
        "specification": spec["info"]["version"],
        "interfaces": interfaces,
        "types": {k: types[k] for k in sorted(types)},
    }
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        json.dump(own, f, separators=(",", ":"), sort_keys=False, ensure_ascii=True)
        f.write("\n")
    print(f"{out}: {len(interfaces)} interfaces, {sum(len(i['events']) for i in interfaces)} events, "
          f"{len(types)} types, {os.path.getsize(out)} bytes")


if __name__ == "__main__":
    main()
