/// What a fired fault answers.
extension FaultRule {
    /// The error body and headers for kinds that answer with an HTTP error; nil for `reset`, `hang`, `copyfail`, `dropped`.
    func errorReply(method: String) -> (error: SimAPIError, retryAfter: Int?)? {
        switch kind {
        case .busy:
            return (SimAPIError(status: 503, code: "busy", message: "サービスが混雑しています: the API is busy"), retryAfterSeconds)
        case .tooManyRequest:
            return (SimAPIError(status: 503, code: "too_many_request", message: "リクエストの密度が高すぎます"), retryAfterSeconds)
        case .status429:
            return (SimAPIError(status: 429, code: "too_many_requests", message: "rate limit exceeded"), retryAfterSeconds ?? 1)
        case .locked:
            return (SimAPIError(status: 423, code: "locked", message: "リソースがロックされています"), retryAfterSeconds)
        case .status500:
            return (SimAPIError(status: 500, code: "internal_server_error", message: "予期しないエラーが発生しました"), retryAfterSeconds)
        case .timeout:
            let code = method == "GET" ? "apiproxy_timeout" : "apiproxy_timeout_non_get"
            return (SimAPIError(status: 504, code: code, message: "要求は実行された可能性があります: the request may have run"), retryAfterSeconds)
        case .stillCreating:
            return (SimAPIError(status: 409, code: "still_creating", message: "要求された操作を行えません。リソースの作成処理が進行中です。完了後に再度お試しください。"), retryAfterSeconds)
        case .reset, .hang, .copyfail, .dropped:
            return nil
        }
    }
}
