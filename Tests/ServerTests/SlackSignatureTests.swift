import Foundation
import Server
import Testing

@Suite("Slack request signatures")
struct SlackSignatureTests {
    // Slack's published example (api.slack.com/authentication/verifying-requests-from-slack).
    static let secret = "8f742231b10e8888abcd99yyyzzz85a5"
    static let timestamp = "1531420618"
    static let body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    static let signature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    static let then = Date(timeIntervalSince1970: 1_531_420_618 + 10)

    @Test("Slack's published example verifies, and signing it gives Slack's signature")
    func example() {
        #expect(SlackSignature.isValid(secret: Self.secret, timestamp: Self.timestamp, signature: Self.signature, body: Data(Self.body.utf8), now: Self.then))
        #expect(SlackSignature.sign(secret: Self.secret, timestamp: Self.timestamp, body: Data(Self.body.utf8)) == Self.signature)
    }

    @Test("each altered variant is refused")
    func altered() {
        let body = Data(Self.body.utf8)
        let flipped = String(Self.signature.dropLast()) + (Self.signature.last == "3" ? "4" : "3")
        let variants: [(String, String, String?, String?, Data, Date)] = [
            ("wrong secret", "8f742231b10e8888abcd99yyyzzz85a6", Self.timestamp, Self.signature, body, Self.then),
            ("altered body", Self.secret, Self.timestamp, Self.signature, Data((Self.body + "&x=1").utf8), Self.then),
            ("altered timestamp", Self.secret, "1531420619", Self.signature, body, Self.then),
            ("altered signature", Self.secret, Self.timestamp, flipped, body, Self.then),
            ("no v0= prefix", Self.secret, Self.timestamp, String(Self.signature.dropFirst(3)), body, Self.then),
            ("v1 scheme", Self.secret, Self.timestamp, "v1=" + Self.signature.dropFirst(3), body, Self.then),
            ("not hex", Self.secret, Self.timestamp, "v0=zz", body, Self.then),
            ("missing signature", Self.secret, Self.timestamp, nil, body, Self.then),
            ("missing timestamp", Self.secret, nil, Self.signature, body, Self.then),
            ("6 minutes old", Self.secret, Self.timestamp, Self.signature, body, Date(timeIntervalSince1970: 1_531_420_618 + 360)),
            ("6 minutes ahead", Self.secret, Self.timestamp, Self.signature, body, Date(timeIntervalSince1970: 1_531_420_618 - 360)),
        ]
        for (what, secret, timestamp, signature, body, now) in variants {
            #expect(!SlackSignature.isValid(secret: secret, timestamp: timestamp, signature: signature, body: body, now: now), "\(what)")
        }
    }
}
