import HTTPTypes
import Hummingbird
import HummingbirdCore
import NIOCore
import NIOHTTPTypes
import NIOSSL

/// Request context that keeps the channel (for the client certificate).
struct SimRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    var maxUploadSize: Int { 64 * 1024 * 1024 }
}

/// Bridges Hummingbird requests to `Simulator.handle`.
struct SimResponder: HTTPResponder {
    typealias Context = SimRequestContext
    let simulator: Simulator
    let tls: Bool

    func respond(to request: Request, context: SimRequestContext) async throws -> Response {
        var headers: [String: String] = [:]
        for field in request.headers {
            let name = field.name.canonicalName
            headers[name] = headers[name].map { "\($0),\(field.value)" } ?? field.value
        }
        let buffer = try await request.body.collect(upTo: context.maxUploadSize)
        let body = Array(buffer.readableBytesView)
        var certificateUser: UserInfo?
        if tls, headers["authorization"] == nil,
           let cert = try? await context.channel.nioSSL_peerCertificate().get(),
           let der = try? cert.toDERBytes(),
           let subject = try? CertificateAuthority.subject(ofDER: der), !subject.commonName.isEmpty {
            certificateUser = simulator.authenticator.authenticate(certificateCommonName: subject.commonName, organizations: subject.organizations)
        }
        let apiRequest = APIRequest(method: request.method.rawValue, target: request.head.path ?? "/", headers: headers, body: body)
        let response = await simulator.handle(apiRequest, clientCertificateUser: certificateUser)
        var fields = HTTPFields()
        for (name, value) in response.headers {
            if let n = HTTPField.Name(name) { fields.append(HTTPField(name: n, value: value)) }
        }
        let status = HTTPResponse.Status(code: response.status)
        switch response.body {
        case .bytes(let bytes):
            return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
        case .stream(let produce):
            return Response(status: status, headers: fields, body: ResponseBody { writer in
                try await produce { bytes in try await writer.write(ByteBuffer(bytes: bytes)) }
                try await writer.finish(nil)
            })
        }
    }
}

/// Counts accepted connections (`/kubesim/stats`) and answers `Expect: 100-continue` (libcurl sends it for
/// large bodies and would otherwise wait a second), as Go's server does.
final class ConnectionCounter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundOut = HTTPResponsePart
    let simulator: Simulator
    init(simulator: Simulator) { self.simulator = simulator }

    func handlerAdded(context: ChannelHandlerContext) { simulator.connectionAccepted() }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = unwrapInboundIn(data), head.headerFields[.expect]?.lowercased() == "100-continue" {
            context.writeAndFlush(wrapOutboundOut(.head(HTTPResponse(status: .continue))), promise: nil)
        }
        context.fireChannelRead(data)
    }
}
