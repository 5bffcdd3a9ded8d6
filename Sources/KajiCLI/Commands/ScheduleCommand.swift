import ArgumentParser
import Engine
import Foundation

struct ScheduleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule",
        abstract: "Cron schedules: each tick enqueues exactly one run, however many workers run.",
        discussion: """
            Examples:
              kaji schedule add nightly-backup --cron "0 3 * * *" --timezone Asia/Tokyo --kind diag.steps --input '{"steps": 2}'
              kaji schedule list --json
              kaji schedule pause nightly-backup
            Workers enqueue due ticks (about once a second). Ticks missed while no worker ran are enqueued once, \
            as the latest due tick.
            """,
        subcommands: [ScheduleAdd.self, ScheduleList.self, SchedulePause.self, ScheduleResume.self, ScheduleRemove.self]
    )
}

enum SchedulePrinter {
    static func print(_ schedules: [ScheduleDocument]) {
        if schedules.isEmpty {
            Swift.print("no schedules")
            return
        }
        Output.table(["NAME", "CRON", "TIMEZONE", "KIND", "STATE", "NEXT", "LAST TICK"], schedules.map { s in
            [s.name, s.cron, s.timezone, s.kind, s.paused ? "paused" : "active", s.paused ? "-" : Output.time(s.nextRunAt), Output.time(s.lastTickAt)]
        })
    }
}

struct ScheduleAdd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Create a schedule (kind and input are checked now, not at the first tick).",
        discussion: """
            --cron takes 5 fields (MIN HOUR DOM MONTH DOW), or 6 with a leading seconds field, or @hourly, \
            @daily, @weekly, @monthly, @yearly. Fields take *, lists, ranges, steps and JAN-DEC / SUN-SAT. \
            When both day fields are restricted, either matching is enough (as in cron).
            """
    )

    @Argument(help: "Schedule name (1-100 letters, digits, - _ . :).")
    var name: String

    @Option(name: .long, help: "Cron expression, e.g. \"0 3 * * *\".")
    var cron: String

    @Option(name: .long, help: "Workflow kind of each run.")
    var kind: String

    @Option(name: .long, help: "Input of each run as JSON (default {}).")
    var input: String = "{}"

    @Option(name: .long, help: "IANA time zone the cron is read in, e.g. Asia/Tokyo (default UTC).")
    var timezone: String = "UTC"

    @Option(name: .long, help: "Queue of the runs (default: default).")
    var queue: String = "default"

    @Option(name: .long, help: "Priority of the runs; higher runs first (default 0).")
    var priority: Int = 0

    @Option(name: .long, help: "Concurrency key of the runs, e.g. cluster:prod-a: one active at a time (default: none).")
    var concurrencyKey: String?

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        CLILogging.bootstrap(defaultLevel: .warning)
        let request = ScheduleRequest(name: name, cron: cron, timezone: timezone, kind: kind, input: input, queue: queue,
                                      priority: priority, concurrencyKey: concurrencyKey, actor: KajiClient.cliActor())
        // Check what needs no database first.
        _ = try KajiClient.check(request, catalog: BuiltinWorkflows.catalog)
        let schedule = try await global.withBackend { backend in
            try await backend.addSchedule(request)
        }
        if global.json {
            try Output.json(schedule)
        } else {
            print("added schedule \(schedule.name) (\(schedule.cron) \(schedule.timezone)); next tick \(Output.time(schedule.nextRunAt))")
        }
    }
}

struct ScheduleList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List schedules by name.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        CLILogging.bootstrap(defaultLevel: .warning)
        let schedules = try await global.withBackend { backend in try await backend.schedules() }
        if global.json {
            try Output.json(schedules)
        } else {
            SchedulePrinter.print(schedules)
        }
    }
}

struct SchedulePause: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pause", abstract: "Pause a schedule: no ticks until it is resumed.")

    @Argument(help: "Schedule name.")
    var name: String

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await ScheduleToggle.run(name: name, paused: true, global: global)
    }
}

struct ScheduleResume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Resume a schedule from its next tick after now (ticks that fell while paused are not enqueued).")

    @Argument(help: "Schedule name.")
    var name: String

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await ScheduleToggle.run(name: name, paused: false, global: global)
    }
}

enum ScheduleToggle {
    static func run(name: String, paused: Bool, global: GlobalOptions) async throws {
        CLILogging.bootstrap(defaultLevel: .warning)
        let schedule = try await global.withBackend { backend in
            try await backend.setSchedule(name: name, paused: paused)
        }
        if global.json {
            try Output.json(schedule)
        } else {
            print(paused ? "paused schedule \(name)" : "resumed schedule \(name); next tick \(Output.time(schedule.nextRunAt))")
        }
    }
}

struct ScheduleRemove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove a schedule (runs it enqueued stay).")

    @Argument(help: "Schedule name.")
    var name: String

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        CLILogging.bootstrap(defaultLevel: .warning)
        let name = self.name
        try await global.withBackend { backend in
            try await backend.removeSchedule(name: name)
        }
        if global.json {
            try Output.json(["removed": name])
        } else {
            print("removed schedule \(name)")
        }
    }
}
