/// Kubernetes naming rules (DNS-1123), so bad names are refused before anything is sent.
/// Each function returns nil for a good name, or what is wrong, phrased to follow the quoted value.
public enum KubernetesNames {
    /// A DNS-1123 label: namespaces, and names used in label values.
    public static func dnsLabelProblem(_ s: String) -> String? {
        if s.isEmpty { return "is empty" }
        if s.utf8.count > 63 { return "is longer than 63 characters" }
        return lowercaseAlnumDash(s, allowDot: false)
    }

    /// A DNS-1123 subdomain: Deployment and most object names.
    public static func dnsSubdomainProblem(_ s: String) -> String? {
        if s.isEmpty { return "is empty" }
        if s.utf8.count > 253 { return "is longer than 253 characters" }
        return lowercaseAlnumDash(s, allowDot: true)
    }

    /// A batch queue name: both the Celery queue and the BatchQueue object's name, so a DNS-1123 label.
    public static func queueNameProblem(_ s: String) -> String? {
        dnsLabelProblem(s).map { $0 + " (a queue name is also a Kubernetes object name)" }
    }

    /// A band name, which users type after `--approve-band`.
    public static func bandNameProblem(_ s: String) -> String? {
        dnsLabelProblem(s)
    }

    private static func lowercaseAlnumDash(_ s: String, allowDot: Bool) -> String? {
        let ok: (Character) -> Bool = { c in
            (c.isASCII && (c.isLowercase || c.isNumber)) || c == "-" || (allowDot && c == ".")
        }
        let allowed = allowDot ? "lowercase letters, digits, '-' and '.'" : "lowercase letters, digits and '-'"
        guard s.allSatisfy(ok) else { return "may contain only \(allowed)" }
        guard let f = s.first, let l = s.last, f.isASCII, l.isASCII, (f.isLetter || f.isNumber), (l.isLetter || l.isNumber) else {
            return "must start and end with a lowercase letter or digit"
        }
        return nil
    }
}
