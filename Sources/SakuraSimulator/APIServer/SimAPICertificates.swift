import Crypto
import Foundation
import NIOSSL
import SwiftASN1
import X509

/// The PKI of one kube-apiserver stand-in, made at run time as kubeadm makes a cluster's: a self-signed
/// cluster CA (`kubernetes`), and a serving certificate signed by it for the control-plane endpoint's address
/// (the VIP), `127.0.0.1` (where the stand-in really listens) and the usual in-cluster names. Keys are P-256.
struct SimAPICertificates: Sendable {
    /// The CA as PEM: what the simulated `admin.conf` carries as `certificate-authority-data`.
    let caPEM: String
    /// The serving certificate and its key, as NIOSSL takes them.
    let serverCertificate: NIOSSLCertificate
    let serverKey: NIOSSLPrivateKey

    /// - Parameter addresses: IPv4 addresses the serving certificate names besides 127.0.0.1.
    static func make(addresses: [String], now: Date = Date()) throws -> SimAPICertificates {
        let caKey = P256.Signing.PrivateKey()
        let caName = try DistinguishedName { CommonName("kubernetes") }
        let notBefore = now.addingTimeInterval(-3600)
        let ca = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(caKey.publicKey),
            notValidBefore: notBefore, notValidAfter: now.addingTimeInterval(10 * 365 * 86400),
            issuer: caName, subject: caName,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                Critical(KeyUsage(digitalSignature: true, keyEncipherment: true, keyCertSign: true))
                SubjectKeyIdentifier(hash: .init(caKey.publicKey))
            },
            issuerPrivateKey: .init(caKey))

        let serverKey = P256.Signing.PrivateKey()
        var names: [GeneralName] = ["kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "localhost"]
            .map { GeneralName.dnsName($0) }
        for address in Set(addresses + ["127.0.0.1"]).sorted() {
            guard let bytes = Self.ipv4Bytes(address) else { continue }
            names.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(bytes))))
        }
        let server = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(serverKey.publicKey),
            notValidBefore: notBefore, notValidAfter: now.addingTimeInterval(365 * 86400),
            issuer: caName, subject: try DistinguishedName { CommonName("kube-apiserver") },
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(names)
            },
            issuerPrivateKey: .init(caKey))

        var serializer = DER.Serializer()
        try serializer.serialize(server)
        return SimAPICertificates(
            caPEM: try ca.serializeAsPEM().pemString,
            serverCertificate: try NIOSSLCertificate(bytes: serializer.serializedBytes, format: .der),
            serverKey: try NIOSSLPrivateKey(bytes: Array(serverKey.pemRepresentation.utf8), format: .pem))
    }

    /// `a.b.c.d` as four bytes, or nil.
    static func ipv4Bytes(_ text: String) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        let bytes = parts.compactMap { UInt8($0) }
        return bytes.count == 4 ? bytes : nil
    }
}
