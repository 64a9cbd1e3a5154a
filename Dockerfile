# batchctl controller image: static Swift standard library, Debian 12 runtime with only the C
# libraries batchctl links (libcurl, hiredis, libyaml) and CA certificates, running as a non-root user.
# scripts/check-image-libs.sh checks that the binary needs exactly the libraries installed here.

FROM swift:6.3-bookworm AS build
# Debian drops superseded package versions from its mirrors, so pins would break rebuilds and
# hold back security fixes; the runtime versions are recorded by the library check instead.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends libcurl4-openssl-dev libhiredis-dev libyaml-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
# The functions the controller runs, placed together by the linker (Package.swift; BENCHMARKS.md, "Controller memory").
COPY linker ./linker
RUN swift build -c release -Xswiftc -Xfrontend -Xswiftc -function-sections --product batchctl --static-swift-stdlib \
 && install -D -m 0755 "$(swift build -c release --show-bin-path)/batchctl" /out/batchctl

FROM debian:bookworm-slim
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends libcurl4 libhiredis0.14 libyaml-0-2 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin batchctl
# libcurl's dependencies (librtmp, libldap) link gnutls, which initialises itself when it is loaded although
# batchctl never uses it (libcurl uses OpenSSL): 0.8 MiB of resident memory. With this set gnutls waits for an
# explicit gnutls_global_init(), which librtmp and libldap make before they use it. batchbench's controller-rss
# row starts the controller with this stage's ENV lines (BENCHMARKS.md, "Controller memory").
ENV GNUTLS_NO_IMPLICIT_INIT=1
COPY --from=build /out/batchctl /usr/local/bin/batchctl
# The kubectl plugin name (kubectl runs kubectl-batchctl for 'kubectl batchctl'): the same binary.
RUN ln -s batchctl /usr/local/bin/kubectl-batchctl
USER 10001:10001
ENTRYPOINT ["/usr/local/bin/batchctl"]
