#!/usr/bin/env python
# Private to this test: validate a compliance report's JSON file against its schema and parse its
# JUnit XML file; print what a CI system would read from them, as JSON.
from __future__ import annotations

import json
import sys
from xml.etree import ElementTree

import jsonschema


def main():
    schema_file, json_file, junit_file = sys.argv[1:4]
    with open(schema_file) as handle:
        schema = json.load(handle)
    with open(json_file) as handle:
        report = json.load(handle)
    jsonschema.Draft202012Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(report), key=str)
    root = ElementTree.parse(junit_file).getroot()
    cases = list(root.iter('testcase'))
    outcome = {}
    for case in cases:
        kind = next((child.tag for child in case if child.tag in ('failure', 'error', 'skipped')), 'passed')
        outcome['%s %s' % (case.get('classname'), case.get('name'))] = kind
    print(json.dumps({
        'schema_errors': [error.message for error in errors[:5]],
        'schema_version': report.get('schema_version'),
        'rows': sum(len(area['rows']) for area in report['areas']),
        'junit_root': root.tag,
        'junit_tests': int(root.get('tests')),
        'junit_cases': len(cases),
        'junit_failures': int(root.get('failures')),
        'junit_errors': int(root.get('errors')),
        'junit_skipped': int(root.get('skipped')),
        'outcome': outcome,
    }))


if __name__ == '__main__':
    main()
