# Trellis router: public trellis.v1 API (gRPC 8080), Prometheus metrics (9090) and the web console (8088).
# Build from the repository root:  docker build -f docker/router.Dockerfile -t trellis-router .
FROM maven:3.9-eclipse-temurin-17 AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/root/.m2 mvn -B -q -pl router -am package -DskipTests

FROM eclipse-temurin:17-jre
RUN groupadd --system --gid 10001 trellis && useradd --system --uid 10001 --gid trellis --home-dir /app trellis \
    && mkdir -p /app /data && chown trellis:trellis /data
WORKDIR /app
COPY --from=build /src/router/target/trellis-router-*.jar /app/trellis-router.jar
COPY --from=build /src/router/target/lib/ /app/lib/
USER 10001:10001
# the heap and collector the launcher gives `trellis router` (TRELLIS_ROUTER_HEAP, default 1536m: what
# the 1,000 requests/s soak held with; the memory limit leaves as much again for everything else); die on OOM so the orchestrator restarts a clean process
ENV JAVA_TOOL_OPTIONS="-Xms1536m -Xmx1536m -XX:+UseParallelGC -XX:MetaspaceSize=256m -XX:+ExitOnOutOfMemoryError"
EXPOSE 8080 9090 8088
VOLUME ["/data"]
ENTRYPOINT ["java", "-cp", "/app/trellis-router.jar:/app/lib/*", "dev.trellis.router.RouterMain"]
CMD ["--port", "8080", "--metrics-port", "9090", "--http-port", "8088", "--store", "/data/trellis.db", "--upstream", "model-server:8081"]
