/*
 * stats.h - every counter and every named drop reason, from one X-macro list.
 *
 * X(id, "Name", "description"). Names are Linux MIB names where Linux has one
 * (nstat / /proc/net/netstat), so numbers can be compared with the kernel's.
 * Drop reasons are counters too: a dropped packet increments exactly one
 * DROP_* counter (plus any MIB counter Linux would also bump).
 * Add new entries at the end of their group.
 */
#ifndef USTCP_STATS_H
#define USTCP_STATS_H

#define USTCP_STATS_LIST(X)                                                                        \
  /* --- IP --- */                                                                                 \
  X(IP_IN_RECEIVES, "IpInReceives", "IPv4 datagrams received")                                     \
  X(IP_IN_DELIVERS, "IpInDelivers", "IPv4 datagrams delivered upward")                             \
  X(IP_OUT_REQUESTS, "IpOutRequests", "IPv4 datagrams sent")                                       \
  X(ICMP_IN_MSGS, "IcmpInMsgs", "ICMP messages received")                                          \
  X(ICMP_OUT_MSGS, "IcmpOutMsgs", "ICMP messages sent")                                            \
  X(ICMP_IN_ECHOS, "IcmpInEchos", "ICMP echo requests received")                                   \
  X(ICMP_IN_ECHO_REPS, "IcmpInEchoReps", "ICMP echo replies received")                             \
  X(ICMP_OUT_DEST_UNREACHS, "IcmpOutDestUnreachs", "ICMP unreachables sent")                       \
  X(IP_IN_HDR_ERRORS, "IpInHdrErrors", "IPv4 datagrams with header errors")                        \
  X(IP_IN_ADDR_ERRORS, "IpInAddrErrors", "IPv4 datagrams not addressed to us")                     \
  X(IP_IN_UNKNOWN_PROTOS, "IpInUnknownProtos", "IPv4 datagrams for an unknown protocol")           \
  X(ICMP_IN_ERRORS, "IcmpInErrors", "ICMP messages received in error")                             \
  X(ICMP_IN_CSUM_ERRORS, "IcmpInCsumErrors", "ICMP checksum errors")                               \
  X(ICMP_IN_DEST_UNREACHS, "IcmpInDestUnreachs", "ICMP unreachables received")                     \
  X(ICMP_IN_TIME_EXCDS, "IcmpInTimeExcds", "ICMP time exceeded received")                          \
  X(ICMP_OUT_ECHOS, "IcmpOutEchos", "ICMP echo requests sent")                                     \
  X(ICMP_OUT_ECHO_REPS, "IcmpOutEchoReps", "ICMP echo replies sent")                               \
  X(ICMP_OUT_RATELIMIT_HOST, "IcmpOutRateLimitHost", "ICMP errors held back (per peer)")           \
  X(ICMP_OUT_RATELIMIT_GLOBAL, "IcmpOutRateLimitGlobal", "ICMP errors held back (global)")         \
  X(UDP_NO_PORTS, "UdpNoPorts", "UDP datagrams to a closed port")                                  \
  X(UDP_IN_ERRORS, "UdpInErrors", "UDP datagrams received in error")                               \
  X(UDP_IN_CSUM_ERRORS, "UdpInCsumErrors", "UDP checksum errors")                                  \
  X(IP_IN_CSUM_ERRORS, "IpExtInCsumErrors", "IPv4 header checksum errors")                         \
  X(IP_IN_TRUNCATED, "IpExtInTruncatedPkts", "IPv4 datagrams shorter than their length")           \
  X(IP_REASM_REQDS, "IpReasmReqds", "IPv4 fragments received")                                     \
  X(IP_REASM_OKS, "IpReasmOKs", "IPv4 datagrams reassembled")                                      \
  X(IP_REASM_FAILS, "IpReasmFails", "IPv4 reassemblies given up")                                  \
  X(IP_REASM_TIMEOUT, "IpReasmTimeout", "IPv4 reassemblies timed out (30 s)")                      \
  X(IP_REASM_OVERLAPS, "IpExtReasmOverlaps", "IPv4 reassemblies dropped for overlaps")             \
  X(IP_FRAG_OKS, "IpFragOKs", "IPv4 datagrams fragmented on output")                               \
  X(IP_FRAG_CREATES, "IpFragCreates", "IPv4 fragments sent")                                       \
  /* --- TCP (RFC 4022 / Linux MIB) --- */                                                         \
  X(TCP_ACTIVE_OPENS, "TcpActiveOpens", "connect() started")                                       \
  X(TCP_PASSIVE_OPENS, "TcpPassiveOpens", "SYNs accepted on a listener")                           \
  X(TCP_ATTEMPT_FAILS, "TcpAttemptFails", "connection attempts failed")                            \
  X(TCP_ESTAB_RESETS, "TcpEstabResets", "resets in ESTABLISHED/CLOSE_WAIT")                        \
  X(TCP_IN_SEGS, "TcpInSegs", "TCP segments received")                                             \
  X(TCP_OUT_SEGS, "TcpOutSegs", "TCP segments sent")                                               \
  X(TCP_RETRANS_SEGS, "TcpRetransSegs", "TCP segments retransmitted")                              \
  X(TCP_IN_ERRS, "TcpInErrs", "TCP segments received in error")                                    \
  X(TCP_OUT_RSTS, "TcpOutRsts", "RST segments sent")                                               \
  X(TCP_IN_CSUM_ERRORS, "TcpInCsumErrors", "TCP checksum errors")                                  \
  X(LISTEN_OVERFLOWS, "ListenOverflows", "accept queue full")                                      \
  X(LISTEN_DROPS, "ListenDrops", "SYN/ACK to a listener dropped")                                  \
  X(TCP_REQQ_FULL_DROP, "TCPReqQFullDrop", "SYN dropped: SYN queue full")                          \
  X(TCP_REQQ_FULL_DO_COOKIES, "TCPReqQFullDoCookies", "SYN cookie sent")                           \
  X(SYNCOOKIES_SENT, "SyncookiesSent", "SYN cookies sent")                                         \
  X(SYNCOOKIES_RECV, "SyncookiesRecv", "valid SYN cookies received")                               \
  X(SYNCOOKIES_FAILED, "SyncookiesFailed", "invalid SYN cookies received")                         \
  X(EMBRYONIC_RSTS, "EmbryonicRsts", "RSTs sent for SYN_RECV requests")                            \
  X(TCP_ABORT_ON_DATA, "TCPAbortOnData", "RST: data after close/unread")                           \
  X(TCP_ABORT_ON_CLOSE, "TCPAbortOnClose", "RST: close with unread data")                          \
  X(TCP_ABORT_ON_LINGER, "TCPAbortOnLinger", "RST: SO_LINGER 0 / linger2")                         \
  X(TCP_ABORT_ON_TIMEOUT, "TCPAbortOnTimeout", "connection timed out")                             \
  X(TCP_ABORT_ON_MEMORY, "TCPAbortOnMemory", "aborted for lack of memory")                         \
  X(TCP_TIMEOUTS, "TCPTimeouts", "RTO expirations")                                                \
  X(TCP_FAST_RETRANS, "TCPFastRetrans", "fast retransmits")                                        \
  X(TCP_LOSS_PROBES, "TCPLossProbes", "tail loss probes sent")                                     \
  X(TCP_SYN_RETRANS, "TCPSynRetrans", "SYN/SYN-ACK retransmits")                                   \
  X(TCP_KEEPALIVE, "TCPKeepAlive", "keepalive probes sent")                                        \
  X(TCP_CHALLENGE_ACK, "TCPChallengeACK", "RFC 5961 challenge ACKs")                               \
  X(TCP_SYN_CHALLENGE, "TCPSYNChallenge", "SYNs answered with challenge ACK")                      \
  X(PAWS_ESTAB_REJECTED, "PAWSEstab", "segments rejected by PAWS")                                 \
  X(TCP_OFO_QUEUE, "TCPOFOQueue", "segments queued out of order")                                  \
  X(TCP_OFO_DROP, "TCPOFODrop", "out-of-order segments dropped (memory)")                          \
  X(TCP_OFO_PRUNED, "OfoPruned", "out-of-order data dropped to queue in-order data")               \
  X(TCP_SACK_RENEGING, "TCPSACKReneging", "peer discarded data it had SACKed (seen at RTO)")       \
  X(TCP_PURE_ACKS, "TCPPureAcks", "pure ACKs received")                                            \
  X(TCP_DELAYED_ACKS, "DelayedACKs", "delayed ACKs sent")                                          \
  X(TCP_DSACK_OLD_SENT, "TCPDSACKOldSent", "D-SACKs sent for old data")                            \
  X(TCP_TIME_WAITS, "TW", "connections entering TIME_WAIT")                                        \
  X(TCP_TW_RECYCLED, "TWRecycled", "TIME_WAIT reused by a new SYN")                                \
  X(TCP_PMTU_REDUCED, "TCPPMTUReduced", "send MSS lowered by ICMP fragmentation needed")           \
  X(TCP_TW_OVERFLOW, "TCPTimeWaitOverflow", "TIME_WAIT skipped: tcp_max_tw_buckets reached")       \
  X(TCP_ZERO_WINDOW_PROBES, "TCPWinProbe", "zero window probes sent")                              \
  X(TCP_ORPHANS_DROPPED, "TCPOrphanDrop", "orphans dropped (fin_timeout)")                         \
  X(TCP_BAD_OPTIONS, "TCPBadOptions", "segments with malformed options, processed (Linux)")        \
  /* --- drop reasons: one per way a packet is thrown away --- */                                  \
  X(DROP_IP_TOO_SHORT, "DropIpTooShort", "IPv4: shorter than its header")                          \
  X(DROP_IP_BAD_VERSION, "DropIpBadVersion", "IPv4: version is not 4")                             \
  X(DROP_IP_BAD_HDRLEN, "DropIpBadHdrLen", "IPv4: IHL < 5 or past the end")                        \
  X(DROP_IP_BAD_TOTLEN, "DropIpBadTotLen", "IPv4: total length inconsistent")                      \
  X(DROP_IP_CSUM, "DropIpCsum", "IPv4: header checksum wrong")                                     \
  X(DROP_IP_FRAGMENT, "DropIpFragment", "IPv4: fragment invalid or no room to reassemble")         \
  X(DROP_IP_FRAG_DUP, "DropIpFragDup", "IPv4: fragment repeats bytes already held")                \
  X(DROP_IP_FRAG_OVERLAP, "DropIpFragOverlap", "IPv4: fragment overlaps, datagram discarded")      \
  X(DROP_IP_FRAG_TOO_BIG, "DropIpFragTooBig", "IPv4: fragments beyond 65535 bytes")                \
  X(DROP_IP_FRAG_TIMEOUT, "DropIpFragTimeout", "IPv4: reassembly timed out (30 s)")                \
  X(DROP_IP_NOT_OURS, "DropIpNotOurs", "IPv4: destination is not us")                              \
  X(DROP_IP_BAD_SRC, "DropIpBadSrc", "IPv4: martian/broadcast source")                             \
  X(DROP_IP_NO_PROTO, "DropIpNoProto", "IPv4: protocol not handled")                               \
  X(DROP_ICMP_TOO_SHORT, "DropIcmpTooShort", "ICMP: truncated")                                    \
  X(DROP_ICMP_CSUM, "DropIcmpCsum", "ICMP: checksum wrong")                                        \
  X(DROP_ICMP_UNHANDLED, "DropIcmpUnhandled", "ICMP: type ignored")                                \
  X(DROP_TCP_TOO_SHORT, "DropTcpTooShort", "TCP: header truncated")                                \
  X(DROP_TCP_BAD_OFF, "DropTcpBadOff", "TCP: data offset wrong")                                   \
  X(DROP_TCP_CSUM, "DropTcpCsum", "TCP: checksum wrong")                                           \
  X(DROP_TCP_BAD_OPT, "DropTcpBadOpt", "TCP: malformed option")                                    \
  X(DROP_TCP_BAD_FLAGS, "DropTcpBadFlags", "TCP: impossible flag combination")                     \
  X(DROP_TCP_NO_SOCKET, "DropTcpNoSocket", "TCP: no socket (RST sent/none)")                       \
  X(DROP_TCP_LISTEN_NO_SYN, "DropTcpListenNoSyn", "TCP: non-SYN to LISTEN")                        \
  X(DROP_TCP_SYNQ_FULL, "DropTcpSynqFull", "TCP: SYN queue full")                                  \
  X(DROP_TCP_ACCEPTQ_FULL, "DropTcpAcceptqFull", "TCP: accept queue full")                         \
  X(DROP_TCP_OLD_ACK, "DropTcpOldAck", "TCP: ACK of nothing we sent")                              \
  X(DROP_TCP_FUTURE_ACK, "DropTcpFutureAck", "TCP: ACK beyond snd_nxt")                            \
  X(DROP_TCP_SEQ_OUTSIDE, "DropTcpSeqOutside", "TCP: sequence outside window")                     \
  X(DROP_TCP_PAWS, "DropTcpPaws", "TCP: PAWS rejected")                                            \
  X(DROP_TCP_RST_INVALID, "DropTcpRstInvalid", "TCP: RST not in window")                           \
  X(DROP_TCP_RST_CHALLENGE, "DropTcpRstChallenge", "TCP: RST challenged")                          \
  X(DROP_TCP_SYN_CHALLENGE, "DropTcpSynChallenge", "TCP: SYN challenged")                          \
  X(DROP_TCP_NO_ACK, "DropTcpNoAck", "TCP: segment without ACK")                                   \
  X(DROP_TCP_AFTER_CLOSE, "DropTcpAfterClose", "TCP: data after shutdown")                         \
  X(DROP_TCP_RCVBUF_FULL, "DropTcpRcvbufFull", "TCP: receive buffer full")                         \
  X(DROP_TCP_OFO_MEM, "DropTcpOfoMem", "TCP: out-of-order memory cap")                             \
  X(DROP_TCP_TIMEWAIT, "DropTcpTimewait", "TCP: absorbed by TIME_WAIT")                            \
  X(DROP_TCP_SYNSENT_BAD, "DropTcpSynsentBad", "TCP: bad segment in SYN_SENT")                     \
  X(DROP_TCP_REQ_BAD_ACK, "DropTcpReqBadAck", "TCP: bad ACK for a request")                        \
  X(DROP_TCP_DUP_SYN, "DropTcpDupSyn", "TCP: SYN for an existing request")                         \
  X(DROP_TCP_NO_MEMORY, "DropTcpNoMemory", "TCP: stack memory cap reached")                        \
  X(DROP_LINK_NO_BUF, "DropLinkNoBuf", "packet buffer pool exhausted")                             \
  X(DROP_IP_BCAST, "DropIpBcast", "IPv4: broadcast/multicast not handled")                         \
  X(DROP_UDP_NO_PORT, "DropUdpNoPort", "UDP: closed port (unreachable sent)")                      \
  X(DROP_UDP_BAD_LEN, "DropUdpBadLen", "UDP: truncated or bad length")                             \
  X(DROP_UDP_CSUM, "DropUdpCsum", "UDP: checksum wrong")                                           \
  X(DROP_LINK_LOSS, "DropLinkLoss", "sim link: random loss")                                       \
  X(DROP_LINK_QUEUE_FULL, "DropLinkQueueFull", "sim link: queue full (tail drop)")                 \
  X(DROP_LINK_MTU, "DropLinkMtu", "sim link: datagram over the MTU")                               \
  X(DROP_LINK_PARTITION, "DropLinkPartition", "sim link: partitioned")                             \
  X(DROP_ROUTER_TTL, "DropRouterTtl", "sim router: TTL expired")                                   \
  X(DROP_ROUTER_NO_ROUTE, "DropRouterNoRoute", "sim router: no route")                             \
  X(DROP_ROUTER_BAD_HDR, "DropRouterBadHdr", "sim router: bad IPv4 header")

enum ustcp_stat {
#define USTCP_STAT_ENUM_(id, name, desc) USTCP_STAT_##id,
  USTCP_STATS_LIST(USTCP_STAT_ENUM_)
#undef USTCP_STAT_ENUM_
      USTCP_STAT_COUNT
};

#endif
