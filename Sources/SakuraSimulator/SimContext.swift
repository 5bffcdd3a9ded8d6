import Hummingbird
import NIOCore

/// Request context that keeps the connection, so a `reset` fault can drop it.
struct SimContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}
