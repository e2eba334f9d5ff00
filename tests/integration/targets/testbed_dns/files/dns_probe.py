#!/usr/bin/env python
# Private to this repository's tests: ask the DNS testbed's servers with dnspython.
"""Usage: dns_probe.py QUERIES_JSON; prints the results as JSON.

QUERIES_JSON is {"servers": {LABEL: "IP:PORT"}, "names": [N, ...], "type": T}; the answer
is {N: {LABEL: result}}. A result is
{"rcode": "NOERROR", "aa": bool, "answer": {TYPE: [rdata text]}, "txt": [joined values],
"txt_strings": [[character-strings]], "serial": N (SOA in answer or authority),
"referral": [NS names in the authority section], "glue": {name: [addresses]}}
or {"error": "Timeout"} when the server does not answer.
"""

import json
import sys

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype


def ask(server, name, rdtype, timeout=2.0):
    host, _sep, port = server.rpartition(':')
    request = dns.message.make_query(name, rdtype)
    try:
        response = dns.query.udp(request, host, port=int(port), timeout=timeout)
        if response.flags & dns.flags.TC:
            response = dns.query.tcp(request, host, port=int(port), timeout=timeout)
    except dns.exception.Timeout:
        return {'error': 'Timeout'}
    except OSError as error:
        return {'error': type(error).__name__}
    result = {'rcode': dns.rcode.to_text(response.rcode()), 'aa': bool(response.flags & dns.flags.AA),
              'answer': {}, 'txt': [], 'txt_strings': [], 'serial': None, 'referral': [], 'glue': {}}
    for rrset in response.answer:
        kind = dns.rdatatype.to_text(rrset.rdtype)
        for rdata in rrset:
            result['answer'].setdefault(kind, []).append(rdata.to_text())
            if rrset.rdtype == dns.rdatatype.TXT:
                result['txt_strings'].append([part.decode() for part in rdata.strings])
                result['txt'].append(b''.join(rdata.strings).decode())
            if rrset.rdtype == dns.rdatatype.SOA:
                result['serial'] = rdata.serial
    for rrset in response.authority:
        for rdata in rrset:
            if rrset.rdtype == dns.rdatatype.SOA and result['serial'] is None:
                result['serial'] = rdata.serial
            if rrset.rdtype == dns.rdatatype.NS:
                result['referral'].append(rdata.target.to_text(omit_final_dot=True))
    for rrset in response.additional:
        if rrset.rdtype == dns.rdatatype.A:
            result['glue'][rrset.name.to_text(omit_final_dot=True)] = sorted(r.address for r in rrset)
    return result


def main():
    spec = json.loads(sys.argv[1])
    print(json.dumps({name: {label: ask(server, name, spec['type'], spec.get('timeout', 2.0))
                             for label, server in spec['servers'].items()}
                      for name in spec['names']}))


if __name__ == '__main__':
    main()
