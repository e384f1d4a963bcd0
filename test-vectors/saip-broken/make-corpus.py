#!/usr/bin/env python3
"""make-corpus.py - regenerate the broken-package corpus from a TS.48 package.

Each case breaks profiles/TS48v5_SAIP2.3_NoBERTLV.der in one way an eUICC
would trip on; expected.txt holds, per file, the message smdp must give
(element index, its ASN.1 type, byte offset, what is wrong). The offsets
are found here by an independent TLV walk, not by smdp's code.
Usage: python3 make-corpus.py [path/to/TS48v5_SAIP2.3_NoBERTLV.der]
(the corpus is committed; this script documents how it was made).
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    HERE, '..', '..', 'profiles', 'TS48v5_SAIP2.3_NoBERTLV.der')

# ProfileElement alternatives by context tag number (SAIP PEDefinitions).
NAMES = ['header', 'genericFileManagement', 'pinCodes', 'pukCodes', 'akaParameter',
         'cdmaParameter', 'securityDomain', 'rfm', 'application', 'nonStandard', 'end',
         'rfu1', 'rfu2', 'rfu3', 'rfu4', 'rfu5', 'mf', 'cd', 'telecom', 'usim', 'opt-usim',
         'isim', 'opt-isim', 'phonebook', 'gsm-access', 'csim', 'opt-csim', 'eap', 'df-5gs',
         'df-saip', 'df-snpn', 'df-5gprose', 'iot', 'opt-iot']


def head(b, o):
    """(tag number, header length, value length) of the TLV at o."""
    s = o
    num = b[o] & 0x1F
    o += 1
    if num == 0x1F:
        num = 0
        while True:
            num = (num << 7) | (b[o] & 0x7F)
            o += 1
            if not b[o - 1] & 0x80:
                break
    ln = b[o]
    o += 1
    if ln & 0x80:
        n = ln & 0x7F
        ln = int.from_bytes(b[o:o + n], 'big')
        o += n
    return num, o - s, ln


def elements(b):
    """[(offset, total length, tag number)] of the top-level TLVs."""
    out, o = [], 0
    while o < len(b):
        num, hl, vl = head(b, o)
        out.append((o, hl + vl, num))
        o += hl + vl
    return out


def enc_len(n):
    if n < 0x80:
        return bytes([n])
    v = n.to_bytes((n.bit_length() + 7) // 8, 'big')
    return bytes([0x80 | len(v)]) + v


def parse(b):
    """Nested TLVs -> list of [tag bytes, value bytes or children]."""
    out, o = [], 0
    while o < len(b):
        s = o
        t = b[o]
        o += 1
        if t & 0x1F == 0x1F:
            while True:
                o += 1
                if not b[o - 1] & 0x80:
                    break
        tag = b[s:o]
        _, hl, vl = head(b, s)
        val = b[s + hl:s + hl + vl]
        out.append([tag, parse(val) if tag[0] & 0x20 else val])
        o = s + hl + vl
    return out


def build(tree):
    out = b''
    for tag, val in tree:
        v = build(val) if isinstance(val, list) else val
        out += tag + enc_len(len(v)) + v
    return out


def name(num):
    return NAMES[num] if num < len(NAMES) else 'tag %X' % num


def msg(i, el, what):
    return 'element %d (%s) at offset %d: %s' % (i, name(el[2]), el[0], what)


def main():
    base = open(SRC, 'rb').read()
    els = elements(base)
    idx = {}
    for i, e in enumerate(els):
        idx.setdefault(NAMES[e[2]], i)
    cases = []

    # truncated: the file ends inside an element
    cut = 6000
    i = max(k for k, e in enumerate(els) if e[0] < cut)
    _, hl, vl = head(base, els[i][0])
    cases.append(('truncated.der', base[:cut], msg(i, els[i],
                  'truncated: declares %d value bytes, the package has %d left'
                  % (vl, cut - els[i][0] - hl))))

    # bad tag: a universal SEQUENCE where element 2 starts
    e = els[2]
    b = bytearray(base)
    b[e[0]] = 0x30
    cases.append(('bad-tag.der', bytes(b), 'element 2 (tag 30) at offset %d: bad tag 30: a '
                  'ProfileElement has a context-specific constructed tag' % e[0]))

    # oversized length inside an element: the header's last component
    # claims 127 bytes
    e = els[0]
    _, hl, vl = head(base, 0)
    o = hl
    while True:
        _, chl, cvl = head(base, o)
        if o + chl + cvl >= hl + vl:
            break
        o += chl + cvl
    assert chl == 2 and cvl < 0x7F
    b = bytearray(base)
    b[o + 1] = 0x7F
    cases.append(('oversized-length.der', bytes(b), msg(0, e,
                  'length 127 at offset %d overruns its container by %d bytes'
                  % (o, 0x7F - cvl))))

    # oversized length of an element: the End element declares 2 GiB
    e = els[-1]
    b = base[:e[0]] + bytes([0xAA, 0x84, 0x7F, 0xFF, 0xFF, 0xFF]) + base[e[0] + 2:]
    cases.append(('huge-length.der', b, msg(len(els) - 1, e,
                  'oversized length 2147483647 (a package is at most 131072 bytes)')))

    # missing header: the package starts with the MF
    rest = base[els[1][0]:]
    cases.append(('missing-header.der', rest, 'element 0 (mf) at offset 0: the first element '
                  'must be the ProfileHeader'))

    # missing end
    e = els[-2]
    cases.append(('missing-end.der', base[:els[-1][0]], msg(len(els) - 2, e,
                  'the package does not end with an End element')))

    # ICCID mismatch: EF.ICCID's last digit pair 1,4 -> 2,4
    e = els[1]
    efi = bytes.fromhex('98001032547698103214')
    k = base.index(efi, e[0], e[0] + e[1])
    b = bytearray(base)
    b[k + 9] = 0x24
    cases.append(('iccid-mismatch.der', bytes(b), msg(1, e,
                  'EF.ICCID 89000123456789012342 differs from the header ICCID '
                  '89000123456789012341')))

    # End element not last: a copy of it after the MF
    end = base[els[-1][0]:]
    b = base[:els[2][0]] + end + base[els[2][0]:]
    cases.append(('end-not-last.der', b, 'element 3 (%s) at offset %d: follows the End '
                  'element, which must be the last' % (name(els[2][2]), els[2][0] + len(end))))

    # duplicate identification: element 3 takes element 2's number
    t2 = parse(base[els[2][0]:els[2][0] + els[2][1]])
    t3 = parse(base[els[3][0]:els[3][0] + els[3][1]])
    id2 = t2[0][1][0][1][-1][1]     # PEHeader.identification value
    t3[0][1][0][1][-1][1] = id2
    b = base[:els[3][0]] + build(t3) + base[els[3][0] + els[3][1]:]
    cases.append(('duplicate-id.der', b, msg(3, els[3], 'identification %d already used by '
                  'element 2' % int.from_bytes(id2, 'big'))))

    # unsupported version: major-version 9
    b = bytearray(base)
    assert b[3:6] == bytes([0x80, 0x01, 0x02])
    b[5] = 9
    cases.append(('bad-version.der', bytes(b), msg(0, els[0], 'unsupported SAIP version 9.%d'
                  % base[8])))

    # schema: the USIM's AKA parameters lose their key
    i = idx['akaParameter']
    e = els[i]
    t = parse(base[e[0]:e[0] + e[1]])
    algo = t[0][1][1][1][0][1]          # algoConfiguration.algoParameter children
    assert algo[2][0] == b'\x82'
    del algo[2]
    b = base[:e[0]] + build(t) + base[e[0] + e[1]:]
    cases.append(('aka-no-key.der', b, msg(i, e, 'does not decode as PE-AKAParameter '
                  '(SAIP ASN.1)')))

    # file overflow: EF.IMSI content of 10 bytes in a 9-byte file
    i = idx['usim']
    e = els[i]
    imsi = bytes.fromhex('080910101032540636')
    k = base.index(bytes([0x83, 0x09]) + imsi, e[0], e[0] + e[1])
    t = parse(base[e[0]:e[0] + e[1]])
    body = t[0][1]
    for comp in body:
        for item in comp[1] if isinstance(comp[1], list) else []:
            if item[0] == b'\x83' and item[1] == imsi:
                item[1] = imsi + b'\xff'
    b = base[:e[0]] + build(t) + base[e[0] + e[1]:]
    assert len(b) == len(base) + 1 and k
    cases.append(('imsi-overflow.der', b, msg(i, e, 'ef-imsi: fill data reaches byte 10 of a '
                  '9-byte file')))

    # lengths: PIN1's pinValue of 7 bytes (SIZE (8) in PINConfiguration)
    e = els[3]
    t = parse(base[e[0]:e[0] + e[1]])
    pin = t[0][1][1][1][0][1][0][1]     # first PINConfiguration's components
    assert pin[1][0] == b'\x81' and len(pin[1][1]) == 8
    pin[1][1] = pin[1][1][:7]
    b = base[:e[0]] + build(t) + base[e[0] + e[1]:]
    cases.append(('pin-length.der', b, msg(3, e, 'pinCodes.pinconfig[0].pinValue: OCTET STRING '
                  'of 7 bytes violates its constraint')))

    # no MF at all
    b = base[:els[1][0]] + base[els[2][0]:]
    cases.append(('missing-mf.der', b, 'element 0 (header) at offset 0: the package has no '
                  'MF element with EF.ICCID (mandatory)'))

    # USIM without the AKA parameters that follow it
    i = idx['akaParameter']
    b = base[:els[i][0]] + base[els[i][0] + els[i][1]:]
    u = idx['usim']
    cases.append(('usim-without-aka.der', b, msg(u, els[u], 'no akaParameter element follows '
                  'the USIM')))

    # empty file
    cases.append(('empty.der', b'', 'package: empty'))

    with open(os.path.join(HERE, 'expected.txt'), 'w') as f:
        f.write('# file<TAB>message smdp gives for it (see README.md)\n')
        for fn, data, m in cases:
            with open(os.path.join(HERE, fn), 'wb') as g:
                g.write(data)
            f.write('%s\t%s\n' % (fn, m))


if __name__ == '__main__':
    main()
