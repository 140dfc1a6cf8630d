#!/usr/bin/env python3
"""pcap_check.py - byte-level checks of a ustcp capture (LINKTYPE_RAW pcap),
beside tshark's decode (lib.sh check_pcap):
  - every IPv4 header checksum and every TCP checksum verifies;
  - no checksum field of a packet ustcp sent is 0xffff (RFC 1624: a
    computed checksum is 0x0000 then; Linux itself writes 0xffff for a
    zero result - CSUM_MANGLED_0 in skb_checksum_help - so packets from
    the kernel may carry it);
  - a retransmission never carries bytes that differ from the first
    transmission of the same sequence numbers (no data corruption).
usage: pcap_check.py FILE USTCP_ADDR; exit 0 ok, 1 problems (printed)."""
import socket
import struct
import sys


def fold(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def main():
    path, ours = sys.argv[1], socket.inet_aton(sys.argv[2])
    f = open(path, "rb")
    hdr = f.read(24)
    if len(hdr) < 24:
        print("pcap_check: short file")
        return 1
    endian = "<" if hdr[:4] in (b"\x4d\x3c\xb2\xa1", b"\xd4\xc3\xb2\xa1") else ">"
    streams = {}
    n = problems = retx = 0
    while True:
        h = f.read(16)
        if len(h) < 16:
            break
        _, _, caplen, origlen = struct.unpack(endian + "IIII", h)
        p = f.read(caplen)
        n += 1
        if caplen != origlen or len(p) < 20 or p[0] >> 4 != 4:
            continue
        ihl = (p[0] & 15) * 4
        tot = struct.unpack("!H", p[2:4])[0]
        if fold(p[:ihl]) != 0xFFFF:
            problems += 1
            print("packet %d: bad IPv4 header checksum" % n)
        if p[9] != 6 or tot > len(p):
            continue
        tcp = p[ihl:tot]
        pseudo = p[12:20] + struct.pack("!BBH", 0, 6, len(tcp))
        if fold(pseudo + tcp) != 0xFFFF:
            problems += 1
            print("packet %d: bad TCP checksum" % n)
        if p[12:16] == ours and tcp[16:18] == b"\xff\xff":
            problems += 1
            print("packet %d: ustcp wrote TCP checksum 0xffff (RFC 1624: 0x0000)" % n)
        data = tcp[(tcp[12] >> 4) * 4:]
        if not data:
            continue
        key = (p[12:16], tcp[0:2], p[16:20], tcp[2:4])
        seq = struct.unpack("!I", tcp[4:8])[0]
        st = streams.get(key)
        if st is None:
            st = streams[key] = [seq, bytearray(), bytearray()]  # base, bytes, seen mask
        off = (seq - st[0]) & 0xFFFFFFFF
        if off >= 1 << 31:
            continue  # before the first data captured
        end = off + len(data)
        if end > len(st[1]):
            grow = end - len(st[1])
            st[1].extend(bytes(grow))
            st[2].extend(bytes(grow))
        mask = st[2][off:end]
        seen_before = any(mask)
        if seen_before:
            old = st[1][off:end]
            bad = [i for i in range(len(data)) if mask[i] and old[i] != data[i]]
            if bad:
                problems += 1
                print("packet %d: retransmitted byte at seq %u differs from the first copy"
                      % (n, (seq + bad[0]) & 0xFFFFFFFF))
        st[1][off:end] = data
        st[2][off:end] = b"\x01" * len(data)
        retx += seen_before
    print("pcap_check: %d packets, %d with resent data, %d problems" % (n, retx, problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
