"""SIP parser throughput: messages per second for a typical INVITE with SDP and a 200 OK.

    .venv/bin/python bench/bench_sip_parse.py

No anchor: there is no comparable pure-Python SIP parser in the environment.
Parsing includes full validation (Via, From, To, Call-ID, CSeq, Contact, Route...).
"""
from __future__ import annotations

from harness import print_table, seconds_per_call, write_json
from offhook.sip import parse_message

SDP = (b"v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.101\r\ns=-\r\n"
       b"c=IN IP4 192.0.2.101\r\nt=0 0\r\nm=audio 49172 RTP/AVP 0 8 9 101\r\n"
       b"a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:9 G722/8000\r\n"
       b"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n")
INVITE = (
    b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bK74bf9;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b"From: \"Alice\" <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n"
    b"To: Bob <sip:bob@biloxi.example.com>\r\n"
    b"Call-ID: 3848276298220188511@atlanta.example.com\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Contact: <sip:alice@192.0.2.101:5060;transport=udp>\r\n"
    b"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, REFER, NOTIFY, UPDATE\r\n"
    b"Supported: replaces, timer\r\n"
    b"User-Agent: offhook\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: " + str(len(SDP)).encode() + b"\r\n\r\n" + SDP)
OK = (
    b"SIP/2.0 200 OK\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bK74bf9;rport=5060;received=192.0.2.101\r\n"
    b"From: \"Alice\" <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n"
    b"To: Bob <sip:bob@biloxi.example.com>;tag=8321234356\r\n"
    b"Call-ID: 3848276298220188511@atlanta.example.com\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Contact: <sip:bob@192.0.2.4:5060>\r\n"
    b"Record-Route: <sip:p1.example.com;lr>\r\n"
    b"Content-Length: 0\r\n\r\n")


def main() -> None:
    rows = []
    for name, data in (("INVITE+SDP", INVITE), ("200 OK", OK)):
        seconds = seconds_per_call(lambda data=data: parse_message(data))
        rows.append({"message": name, "bytes": len(data), "us_per_msg": seconds * 1e6,
                     "msgs_per_s": 1.0 / seconds})
    print_table("SIP parse (offhook.sip.parse_message)", ["message", "bytes", "µs/msg", "msgs/s"],
                [[r["message"], r["bytes"], r["us_per_msg"], r["msgs_per_s"]] for r in rows])
    write_json("sip_parse", rows)


if __name__ == "__main__":
    main()
