"""ip_frag_linux.py - the Linux facts tests/sim/test_ip_frag.c relies on,
checked on the running kernel (run inside a fresh network namespace with lo
up, as root): fragments of an ICMP echo request sent with a raw socket to
127.0.0.1 in order, with a duplicate, with a partial overlap, with a
non-last fragment not a multiple of 8, and complete again after an
overlap. Prints one line per case; exits 1 if Linux did not behave as
expected."""
import socket, struct, os, time, select
def csum(b):
    if len(b)%2: b+=b'\0'
    s=sum(struct.unpack('!%dH'%(len(b)//2),b)); s=(s>>16)+(s&0xffff); s+=s>>16
    return (~s)&0xffff
def echo(id_, n):
    body=bytes((i*13+(i>>8))&0xff for i in range(n))
    h=struct.pack('!BBHHH',8,0,0,0x4242,id_)
    c=csum(h+body); return struct.pack('!BBHHH',8,0,c,0x4242,id_)+body
def frag(payload, ipid, off, n, last):
    flags = 0 if last else 0x2000
    hdr=struct.pack('!BBHHHBBH4s4s',0x45,0,20+n,ipid,flags|(off//8),64,1,0,socket.inet_aton('127.0.0.1'),socket.inet_aton('127.0.0.1'))
    hdr=hdr[:10]+struct.pack('!H',csum(hdr))+hdr[12:]
    return hdr+payload[off:off+n]
raw=socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
ic=socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
def run(name, pieces, ipid, seq):
    p=echo(seq,1200)
    for off,n,last in pieces:
        raw.sendto(frag(p,ipid,off,n,last),('127.0.0.1',0))
    got=False; end=time.time()+0.5
    while time.time()<end:
        r,_,_=select.select([ic],[],[],0.1)
        if r:
            d=ic.recv(65535); ihl=(d[0]&15)*4
            if d[ihl]==0 and struct.unpack('!H',d[ihl+6:ihl+8])[0]==seq: got=True
    print(name, 'reply' if got else 'no reply')
    return got
ok = True
ok &= run('inorder', [(0,400,0),(400,400,0),(800,408,1)], 101, 1)
ok &= run('dup', [(800,408,1),(400,400,0),(400,400,0),(0,400,0)], 102, 2)
ok &= not run('overlap', [(0,400,0),(200,400,0),(400,400,0),(800,408,1)], 103, 3)
ok &= run('trim8', [(0,403,0),(400,808,1)], 104, 4)
ok &= run('overlap-then-full', [(0,400,0),(200,400,0),(0,400,0),(400,400,0),(800,408,1)], 105, 5)
raise SystemExit(0 if ok else 1)
