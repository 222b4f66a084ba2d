package dev.trellis.experiments.hashing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.RoundingMode;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalDouble;
import org.apache.commons.math3.stat.inference.ChiSquareTest;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** GrowthBook conformance (the hashing sections of growthbook_cases.json, spec 0.8.0) plus our own rules. */
class GrowthBookHashTest {
    private static JsonNode cases;

    @BeforeAll
    static void load() throws IOException {
        try (InputStream in = GrowthBookHashTest.class.getResourceAsStream("/growthbook_cases.json")) {
            cases = new ObjectMapper().readTree(in);
        }
    }

    @Test
    void hash_matchesGrowthBookCases() {
        int unknownVersions = 0;
        for (JsonNode row : cases.get("hash")) {
            String seed = row.get(0).asText();
            String value = row.get(1).asText();
            int version = row.get(2).asInt();
            JsonNode expected = row.get(3);
            OptionalDouble actual = GrowthBookHash.hash(seed, value, version);
            if (expected.isNull()) {
                // GrowthBook returns null for an unknown hash version
                assertThat(actual).as("v%d %s %s", version, seed, value).isEmpty();
                unknownVersions++;
            } else {
                assertThat(actual).as("v%d %s %s", version, seed, value).hasValue(expected.asDouble());
                assertThat(version == 1 ? GrowthBookHash.hashV1(seed, value) : GrowthBookHash.hashV2(seed, value))
                        .isEqualTo(expected.asDouble());
            }
        }
        assertThat(cases.get("hash")).hasSize(15);
        assertThat(unknownVersions).isEqualTo(1);
    }

    @Test
    void bucketRanges_matchesGrowthBookCases() {
        int checked = 0;
        for (JsonNode row : cases.get("getBucketRange")) {
            String name = row.get(0).asText();
            int variants = row.get(1).get(0).asInt();
            double coverage = row.get(1).get(1).asDouble();
            JsonNode w = row.get(1).get(2);
            double[] weights = w.isNull() ? null : toArray(w);
            if (weights != null && (weights.length != variants || Math.abs(sum(weights) - 1) > 0.01)) {
                // Deliberate difference: GrowthBook falls back to equal weights, we reject the definition.
                assertThatThrownBy(() -> GrowthBookHash.bucketRanges(variants, coverage, weights))
                        .as(name)
                        .isInstanceOf(IllegalArgumentException.class);
                checked++;
                continue;
            }
            List<BucketRange> ranges = GrowthBookHash.bucketRanges(variants, coverage, weights);
            JsonNode expected = row.get(2);
            assertThat(ranges).as(name).hasSize(expected.size());
            for (int i = 0; i < ranges.size(); i++) {
                assertThat(truncate8(ranges.get(i).start()))
                        .as(name)
                        .isEqualTo(truncate8(expected.get(i).get(0).asDouble()));
                assertThat(truncate8(ranges.get(i).end()))
                        .as(name)
                        .isEqualTo(truncate8(expected.get(i).get(1).asDouble()));
            }
            checked++;
        }
        assertThat(checked).isEqualTo(13);
    }

    @Test
    void chooseVariation_matchesGrowthBookCases() {
        for (JsonNode row : cases.get("chooseVariation")) {
            List<BucketRange> ranges = new ArrayList<>();
            for (JsonNode r : row.get(2)) {
                ranges.add(new BucketRange(r.get(0).asDouble(), r.get(1).asDouble()));
            }
            assertThat(GrowthBookHash.chooseVariation(row.get(1).asDouble(), ranges))
                    .as(row.get(0).asText())
                    .isEqualTo(row.get(3).asInt());
        }
        assertThat(cases.get("chooseVariation")).hasSize(13);
    }

    @Test
    void inNamespace_matchesGrowthBookCases() {
        for (JsonNode row : cases.get("inNamespace")) {
            JsonNode ns = row.get(2);
            assertThat(GrowthBookHash.inNamespace(
                            row.get(1).asText(),
                            ns.get(0).asText(),
                            ns.get(1).asDouble(),
                            ns.get(2).asDouble()))
                    .as(row.get(0).asText())
                    .isEqualTo(row.get(3).asBoolean());
        }
        assertThat(cases.get("inNamespace")).hasSize(16);
    }

    @Test
    void equalWeights_matchesGrowthBookCases() {
        for (JsonNode row : cases.get("getEqualWeights")) {
            double[] actual = GrowthBookHash.equalWeights(row.get(0).asInt());
            JsonNode expected = row.get(1);
            assertThat(actual).hasSize(expected.size());
            for (int i = 0; i < actual.length; i++) {
                assertThat(truncate8(actual[i]))
                        .isEqualTo(truncate8(expected.get(i).asDouble()));
            }
        }
    }

    /**
     * Non-ASCII ids hash their UTF-16 code units. Expected values were computed independently with
     * python3 (encode('utf-16-be'), FNV-1a over the 16-bit units, h = (h ^ u) * 16777619 % 2**32):
     * "é" → [0xE9] → 1812687940; "日本" → [0x65E5, 0x672C] → 1610399396; "😀" (U+1F600) → the
     * surrogate pair [0xD83D, 0xDE00] → 3409036472; hashV2("exp", ·) = 0.976, 0.6896, 0.7506.
     */
    @Test
    void fnv1a32_nonAsciiUsesUtf16CodeUnits() {
        assertThat(GrowthBookHash.fnv1a32("é")).isEqualTo(1812687940L).isEqualTo(reference("é"));
        assertThat(GrowthBookHash.fnv1a32("日本")).isEqualTo(1610399396L).isEqualTo(reference("日本"));
        assertThat(GrowthBookHash.fnv1a32("\uD83D\uDE00"))
                .isEqualTo(3409036472L)
                .isEqualTo(reference("\uD83D\uDE00"));
        assertThat(GrowthBookHash.fnv1a32("a")).isEqualTo(0xE40C292CL); // the published FNV-1a test vector
        assertThat(GrowthBookHash.hashV2("exp", "é")).isEqualTo(0.976);
        assertThat(GrowthBookHash.hashV2("exp", "日本")).isEqualTo(0.6896);
        assertThat(GrowthBookHash.hashV2("exp", "\uD83D\uDE00")).isEqualTo(0.7506);
        assertThat(GrowthBookHash.hashV1("__ns", "\uD83D\uDE00")).isEqualTo(0.937);
    }

    /** A second implementation written differently: BigInteger arithmetic over UTF-16BE bytes. */
    private static long reference(String s) {
        byte[] bytes = s.getBytes(StandardCharsets.UTF_16BE);
        BigInteger mod = BigInteger.ONE.shiftLeft(32);
        BigInteger h = BigInteger.valueOf(2166136261L);
        for (int i = 0; i < bytes.length; i += 2) {
            int unit = ((bytes[i] & 0xff) << 8) | (bytes[i + 1] & 0xff);
            h = h.xor(BigInteger.valueOf(unit))
                    .multiply(BigInteger.valueOf(16777619L))
                    .mod(mod);
        }
        return h.longValueExact();
    }

    @Test
    void bucketRanges_invalidWeightsRejected() {
        assertThatThrownBy(() -> GrowthBookHash.bucketRanges(2, 1, new double[] {0.4, 0.1}))
                .hasMessageContaining("sum to");
        assertThatThrownBy(() -> GrowthBookHash.bucketRanges(3, 1, new double[] {0.5, 0.5}))
                .hasMessageContaining("expected 3 weights");
    }

    @Test
    void assignment_fiftyFiftySplitIsUniform() {
        assertSplit(new double[] {0.5, 0.5});
    }

    @Test
    void assignment_tenNinetySplitIsUniform() {
        assertSplit(new double[] {0.1, 0.9});
    }

    private static void assertSplit(double[] weights) {
        List<BucketRange> ranges = GrowthBookHash.bucketRanges(weights.length, 1, weights);
        long[] observed = new long[weights.length];
        for (int i = 0; i < 100_000; i++) {
            int v = GrowthBookHash.chooseVariation(GrowthBookHash.hashV2("split-test", "unit-" + i), ranges);
            assertThat(v).isNotNegative();
            observed[v]++;
        }
        double[] expected = new double[weights.length];
        for (int i = 0; i < weights.length; i++) {
            expected[i] = 100_000 * weights[i];
        }
        double p = new ChiSquareTest().chiSquareTest(expected, observed);
        assertThat(p).as("observed %s", java.util.Arrays.toString(observed)).isGreaterThan(0.001);
    }

    @Test
    void bucketRanges_raisingCoverageMovesNoAssignedUnit() {
        double[] weights = {0.3, 0.7};
        List<BucketRange> half = GrowthBookHash.bucketRanges(2, 0.5, weights);
        List<BucketRange> full = GrowthBookHash.bucketRanges(2, 1.0, weights);
        int assigned = 0;
        for (int i = 0; i < 100_000; i++) {
            double n = GrowthBookHash.hashV2("coverage-test", "unit-" + i);
            int before = GrowthBookHash.chooseVariation(n, half);
            int after = GrowthBookHash.chooseVariation(n, full);
            assertThat(after).isNotNegative();
            if (before >= 0) {
                assigned++;
                assertThat(after).as("unit-%d", i).isEqualTo(before);
            }
        }
        assertThat(assigned).isBetween(49_000, 51_000);
    }

    private static double truncate8(double x) {
        return new BigDecimal(Double.toString(x)).setScale(8, RoundingMode.DOWN).doubleValue();
    }

    private static double[] toArray(JsonNode node) {
        double[] out = new double[node.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = node.get(i).asDouble();
        }
        return out;
    }

    private static double sum(double[] xs) {
        double s = 0;
        for (double x : xs) {
            s += x;
        }
        return s;
    }
}
