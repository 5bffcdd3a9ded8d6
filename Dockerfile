# Builds the kaji executable and ships it with its migrations bundle.
FROM swift:6.1-bookworm AS build
WORKDIR /src
COPY . .
RUN swift build -c release --product kaji \
 && mkdir -p /out \
 && cp .build/release/kaji /out/ \
 && cp -r .build/release/kaji_KajiMigrations.resources /out/

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libcurl4 libxml2 tzdata ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/lib/swift/linux/*.so /usr/lib/swift/linux/
COPY --from=build /out/ /usr/local/bin/
ENV LD_LIBRARY_PATH=/usr/lib/swift/linux
ENTRYPOINT []
CMD ["kaji", "--help"]
