#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A small HTTP/1.1 server on POSIX sockets, bound to the loopback address only (it serves a
/// local model to local tools; it is not hardened for the open internet).
///
/// Each connection gets its own thread (at most `maxConnections` at once; more get 503), keeps
/// alive until the client closes or stays idle for `idleTimeout`, and has every request parsed
/// within `limits` (a malformed request gets 400, an over-long one 413/431, and the connection is
/// closed). The handler runs under a lock, one request at a time, because it usually drives a
/// single model.
///
/// ```swift
/// let server = try HTTPServer(port: 0) { request in .json(200, "{}") }
/// try server.start()                 // server.port is the ephemeral port chosen
/// defer { server.stop() }
/// ```
public final class HTTPServer: @unchecked Sendable {
    public typealias Handler = @Sendable (HTTPRequest) -> HTTPResponse

    public let host = "127.0.0.1"
    /// The bound port (the kernel's choice when 0 was asked for).
    public private(set) var port: Int
    public let limits: HTTPLimits
    public var idleTimeout: Double = 5
    public var maxConnections = 16

    private let handler: Handler
    private var listenFD: Int32 = -1
    private let lock = NSLock()
    private let handlerLock = NSLock()
    private var running = false
    private var active = 0
    private let acceptDone = DispatchSemaphore(value: 0)

    /// Binds `127.0.0.1:port` (0 = any free port) and listens; `start()` begins serving.
    public init(port: Int, limits: HTTPLimits = HTTPLimits(), handler: @escaping Handler) throws {
        guard (0...65535).contains(port) else { throw HTTPError(.badURL, "port \(port) is not 0…65535") }
        self.limits = limits
        self.handler = handler
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HTTPError(.network, "cannot create a socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            let message = String(cString: strerror(errno))
            _ = Glibc.close(fd)
            throw HTTPError(.network, "cannot listen on 127.0.0.1:\(port): \(message); pick another --port")
        }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        self.port = Int(UInt16(bigEndian: addr.sin_port))
        listenFD = fd
    }

    deinit { stop() }

    /// `http://127.0.0.1:PORT`.
    public var url: String { "http://\(host):\(port)" }

    /// Starts the accept loop on its own thread and returns.
    public func start() {
        lock.lock()
        defer { lock.unlock() }
        guard !running, listenFD >= 0 else { return }
        running = true
        // Not stored: the thread's closure holds the server, so a stored thread would be a
        // reference cycle that outlives stop() (LeakSanitizer reported every test server).
        let t = Thread { [self] in acceptLoop() }
        t.name = "HTTPServer:\(port)"
        t.start()
    }

    /// Serves on the calling thread until `stop()` is called from elsewhere (the `serve` command).
    public func run() {
        start()
        acceptDone.wait()
        acceptDone.signal()
    }

    /// Stops accepting and closes the listening socket. Requests in progress finish.
    public func stop() {
        lock.lock()
        let fd = listenFD
        let wasRunning = running
        listenFD = -1
        running = false
        lock.unlock()
        guard fd >= 0 else { return }
        // shutdown wakes a thread blocked in accept(2) on Linux.
        _ = shutdown(fd, Int32(SHUT_RDWR))
        _ = Glibc.close(fd)
        if wasRunning { acceptDone.wait(); acceptDone.signal() }
    }

    private func acceptLoop() {
        defer { acceptDone.signal() }
        while true {
            lock.lock()
            let fd = listenFD
            lock.unlock()
            guard fd >= 0 else { return }
            let client = accept(fd, nil, nil)
            if client < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return  // closed by stop()
            }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            let socket = HTTPSocket(fd: client, peer: "client")
            socket.setTimeout(idleTimeout)
            lock.lock()
            let admitted = active < maxConnections
            if admitted { active += 1 }
            lock.unlock()
            guard admitted else {
                try? socket.send(HTTPResponse.json(503, #"{"error":"too many connections","error_type":"Overloaded"}"#).serialized(close: true))
                continue
            }
            let box = SocketBox(socket)
            Thread { [self] in
                serve(box.socket)
                lock.lock(); active -= 1; lock.unlock()
            }.start()
        }
    }

    /// Answers requests on one connection until it closes, idles out or sends garbage.
    private func serve(_ socket: HTTPSocket) {
        var buffer: [UInt8] = []
        while true {
            let parsed: (HTTPRequest, Int)?
            do {
                parsed = try HTTPParser.request(buffer, limits: limits)
            } catch {
                let status = error.kind == .tooLarge ? (error.message.contains("header") ? 431 : 413) : 400
                try? socket.send(Self.errorResponse(status, error.message).serialized(close: true))
                return
            }
            if let (request, used) = parsed {
                buffer.removeFirst(used)
                handlerLock.lock()
                let response = handler(request)
                handlerLock.unlock()
                let close = request.wantsClose
                do { try socket.send(response.serialized(close: close)) } catch { return }
                if close { return }
                continue
            }
            do {
                guard try socket.receive(into: &buffer) else { return }
            } catch {
                return  // idle timeout or reset: just drop the connection
            }
        }
    }

    /// A TEI-style error body: `{"error": message, "error_type": …}`.
    public static func errorResponse(_ status: Int, _ message: String) -> HTTPResponse {
        let type = switch status {
        case 413, 422, 400, 431: "Validation"
        case 429, 503: "Overloaded"
        default: "Backend"
        }
        return .json(status, "{\"error\":\(TEIJSON.quoted(message)),\"error_type\":\"\(type)\"}")
    }
}

/// Moves a socket into a connection thread (the thread owns it from then on).
private final class SocketBox: @unchecked Sendable {
    let socket: HTTPSocket
    init(_ s: HTTPSocket) { socket = s }
}
