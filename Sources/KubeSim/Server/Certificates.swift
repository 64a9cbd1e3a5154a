import Crypto
import Foundation
import SwiftASN1
import X509

/// A PEM certificate and its PEM (PKCS#8) private key.
public struct CertificateAndKey: Sendable {
    /// Certificate (PEM).
    public var certificatePEM: String
    /// Private key (PKCS#8 PEM).
    public var privateKeyPEM: String
}

/// The CA KubeSim generates at start: it signs the serving certificate (127.0.0.1, localhost) and client
/// certificates (CN = user, O = groups).
public struct CertificateAuthority {
    private let key: P256.Signing.PrivateKey
    private let certificate: Certificate
    private let name: DistinguishedName

    /// Generates a new CA (P-256, valid for ten years).
    public init(commonName: String = "kubesim-ca") throws {
        key = P256.Signing.PrivateKey()
        name = try DistinguishedName { CommonName(commonName) }
        let publicKey = Certificate.PublicKey(key.publicKey)
        let now = Date()
        certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: publicKey,
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(3650 * 86400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                Critical(KeyUsage(digitalSignature: true, keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: publicKey)
            },
            issuerPrivateKey: Certificate.PrivateKey(key))
    }

    /// The CA certificate (PEM).
    public var certificatePEM: String {
        get throws { try certificate.serializeAsPEM().pemString }
    }

    /// A serving certificate for loopback.
    public func issueServerCertificate(dnsNames: [String] = ["localhost", "kubernetes", "kubernetes.default"],
                                       ipAddresses: [[UInt8]] = [[127, 0, 0, 1]]) throws -> CertificateAndKey {
        let subject = try DistinguishedName { CommonName("kubesim") }
        var names: [GeneralName] = dnsNames.map { .dnsName($0) }
        names += ipAddresses.map { .ipAddress(ASN1OctetString(contentBytes: $0[...])) }
        let san = SubjectAlternativeNames(names)
        return try issue(subject: subject) {
            Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
            try ExtendedKeyUsage([.serverAuth])
            san
        }
    }

    /// A client certificate: CN = user, one O per group.
    public func issueClientCertificate(user: String, groups: [String]) throws -> CertificateAndKey {
        var rdns = groups.map { RelativeDistinguishedName(.init(type: .RDNAttributeType.organizationName, utf8String: $0)) }
        rdns.append(RelativeDistinguishedName(.init(type: .RDNAttributeType.commonName, utf8String: user)))
        return try issue(subject: DistinguishedName(rdns)) {
            Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
            try ExtendedKeyUsage([.clientAuth])
        }
    }

    private func issue(subject: DistinguishedName,
                       @ExtensionsBuilder extensions: () throws -> Result<Certificate.Extensions, any Error>) throws -> CertificateAndKey {
        let leafKey = P256.Signing.PrivateKey()
        let now = Date()
        var exts = try Certificate.Extensions(builder: extensions)
        try exts.append(Certificate.Extension(AuthorityKeyIdentifier(keyIdentifier: SubjectKeyIdentifier(hash: certificate.publicKey).keyIdentifier), critical: false))
        let leaf = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: Certificate.PublicKey(leafKey.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(3650 * 86400),
            issuer: name, subject: subject, signatureAlgorithm: .ecdsaWithSHA256, extensions: exts,
            issuerPrivateKey: Certificate.PrivateKey(key))
        return CertificateAndKey(certificatePEM: try leaf.serializeAsPEM().pemString, privateKeyPEM: leafKey.pemRepresentation)
    }

    /// CN and O values of a DER certificate (for client-certificate authentication).
    public static func subject(ofDER der: [UInt8]) throws -> (commonName: String, organizations: [String]) {
        let cert = try Certificate(derEncoded: der)
        var cn = ""
        var orgs: [String] = []
        for rdn in cert.subject {
            for attribute in rdn {
                let text = String(describing: attribute.value)
                if attribute.type == .RDNAttributeType.commonName { cn = text }
                if attribute.type == .RDNAttributeType.organizationName { orgs.append(text) }
            }
        }
        return (cn, orgs)
    }
}
