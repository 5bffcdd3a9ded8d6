// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "kaji",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "kaji", targets: ["KajiCLI"]),
        .executable(name: "sakura-sim", targets: ["SakuraSim"]),
        .library(name: "Engine", targets: ["Engine"]),
        .library(name: "Provisioner", targets: ["Provisioner"]),
        .library(name: "SakuraSimulator", targets: ["SakuraSimulator"]),
        .library(name: "Workflows", targets: ["Workflows"]),
    ],
    dependencies: [
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-ssh.git", from: "0.15.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // The HTTP API's types and server stubs are generated from Sources/Server/openapi.yaml by
        // scripts/openapi-generate.sh and committed; only the runtime and the Hummingbird transport build here.
        .package(url: "https://github.com/apple/swift-openapi-runtime", from: "1.13.4"),
        .package(url: "https://github.com/hummingbird-project/swift-openapi-hummingbird", from: "2.1.0"),
    ],
    targets: [
        // The only schema source: numbered SQL files, shipped as a resource bundle.
        .target(
            name: "KajiMigrations",
            path: "Migrations",
            resources: [.copy("sql")]
        ),
        // JSONValue, shared by the engine and the simulator (which know nothing of each other).
        .target(name: "JSONCore"),
        .target(
            name: "Engine",
            dependencies: [
                "KajiMigrations",
                "JSONCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .target(
            name: "Worker",
            dependencies: [
                "Engine",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                "KajiMetrics",
            ]
        ),
        // Prometheus export: a swift-prometheus registry behind a swift-metrics factory that knows each
        // metric's HELP text and buckets, and the text format for values computed at scrape time.
        .target(
            name: "KajiMetrics",
            dependencies: [
                "Engine",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // `kaji slo rules`: sloth's prometheus/v1 SLO spec in, Prometheus recording and alerting rules out.
        .target(
            name: "SLO",
            dependencies: [
                "Engine",
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // Adapters to the outside: SAKURA Cloud API client, SSH executor, node command builders/parsers.
        .target(
            name: "Provisioner",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSH", package: "swift-nio-ssh"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // A local SAKURA Cloud API (the subset Kaji uses) for tests, the demo and benchmarks.
        .target(
            name: "SakuraSimulator",
            dependencies: [
                "JSONCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                // The kube-apiserver stand-ins: TLS with a CA made at run time.
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "SakuraSim",
            dependencies: [
                "SakuraSimulator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The cluster operations as workflows, the cluster manifest and its validation, the inventory.
        .target(
            name: "Workflows",
            dependencies: [
                "Engine",
                "Provisioner",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                // The API health checker runs as a service of `kaji worker`.
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The HTTP API (`kaji serve`): routes that call KajiClient and ClusterService, bearer-token roles,
        // its OpenAPI document.
        .target(
            name: "Server",
            dependencies: [
                "Engine",
                "Workflows",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "OpenAPIHummingbird", package: "swift-openapi-hummingbird"),
                "KajiMetrics",
            ],
            resources: [.copy("openapi.yaml")]
        ),
        .executableTarget(
            name: "KajiCLI",
            dependencies: [
                "Engine",
                "Server",
                "Worker",
                "Workflows",
                "Provisioner",
                "JSONCore",
                "SLO",
                "KajiMetrics",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The test kit of every test target: a migrated schema per test, worker pools, `eventually`, `kaji`
        // processes, private PostgreSQL servers, the test sshd, the simulator, the engine's test workflows, the
        // cluster test environment and the manifest, backup, audit and retention fixtures.
        .target(
            name: "KajiTesting",
            dependencies: [
                "Engine",
                "Worker",
                "Provisioner",
                "SakuraSimulator",
                "Workflows",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Tests/KajiTesting"
        ),
        .testTarget(
            name: "EngineTests",
            dependencies: [
                "KajiTesting",
                "Engine",
                "KajiMigrations",
                "Worker",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        .testTarget(
            name: "WorkflowsTests",
            dependencies: [
                "KajiTesting",
                "Workflows",
                "Server",
                "Engine",
                "Worker",
                "Provisioner",
                "SakuraSimulator",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        // The HTTP API over real HTTP against a `kaji serve` process.
        .testTarget(
            name: "ServerTests",
            dependencies: [
                "KajiTesting",
                "Server",
                "Engine",
                "KajiTesting",
                "Workflows",
                "SakuraSimulator",
                .product(name: "Hummingbird", package: "hummingbird"),
                "KajiMigrations",
                "Worker",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "ProvisionerTests",
            dependencies: [
                "KajiTesting",
                "Provisioner",
                "SakuraSimulator",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // Metrics (a real worker pool and `kaji worker`/`kaji serve` over HTTP, promtool check metrics) and the
        // SLO rules (promtool check rules, promtool test rules).
        .testTarget(
            name: "ObservabilityTests",
            dependencies: [
                "KajiTesting",
                "Engine",
                "Worker",
                "KajiMetrics",
                "Server",
                "SLO",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Tests that run the built executables (`kaji`, `sakura-sim`) as processes: the CLI, worker processes,
        // faults, the demo, cluster workflows in workers, kaji apply/audit/prune, TLS to PostgreSQL.
        .testTarget(
            name: "ProcessTests",
            dependencies: [
                "KajiTesting",
                "Engine",
                "KajiMigrations",
                "Provisioner",
                "Workflows",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
