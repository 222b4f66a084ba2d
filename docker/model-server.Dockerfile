# Trellis model-server: Open Inference Protocol v2 over gRPC (8081) and Prometheus metrics (9091).
# Build from the repository root:  docker build -f docker/model-server.Dockerfile -t trellis-model-server .
FROM maven:3.9-eclipse-temurin-17 AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/root/.m2 mvn -B -q -pl model-server -am package -DskipTests

FROM eclipse-temurin:17-jre
# libgomp1: OpenMP runtime the XGBoost and LightGBM native libraries link against
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 trellis && useradd --system --uid 10001 --gid trellis --home-dir /app trellis \
    && mkdir -p /app /models
WORKDIR /app
COPY --from=build /src/model-server/target/trellis-model-server-*.jar /app/trellis-model-server.jar
COPY --from=build /src/model-server/target/lib/ /app/lib/
USER 10001:10001
# one OpenMP thread per native call: the server already runs calls in parallel on its own threads;
# the heap and collector the launcher gives `trellis model-server` (TRELLIS_MODEL_SERVER_HEAP, default 1g;
# the memory limit leaves as much again for the native libraries and the rest), and die on OOM
ENV OMP_NUM_THREADS=1 \
    JAVA_TOOL_OPTIONS="-Xms1g -Xmx1g -XX:+UseParallelGC -XX:MetaspaceSize=256m -XX:+ExitOnOutOfMemoryError"
EXPOSE 8081 9091
ENTRYPOINT ["java", "-cp", "/app/trellis-model-server.jar:/app/lib/*", "dev.trellis.modelserver.ModelServerMain"]
CMD ["--repo", "/models", "--port", "8081", "--metrics-port", "9091"]
