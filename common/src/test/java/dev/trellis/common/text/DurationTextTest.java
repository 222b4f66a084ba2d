package dev.trellis.common.text;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class DurationTextTest {
    static Stream<Arguments> vectors() throws IOException {
        try (InputStream in = DurationTextTest.class.getResourceAsStream("/durations.tsv")) {
            List<String> lines = List.of(new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n"));
            return lines.stream()
                    .filter(l -> !l.startsWith("#") && !l.isEmpty())
                    .map(l -> {
                        int tab = l.lastIndexOf('\t');
                        return Arguments.of(l.substring(0, tab), l.substring(tab + 1));
                    });
        }
    }

    @ParameterizedTest(name = "[{0}] -> {1}")
    @MethodSource("vectors")
    void parse_sharedVectors(String text, String expected) {
        if (expected.startsWith("error:")) {
            assertThatThrownBy(() -> DurationText.parse(text))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining(expected.substring("error:".length()));
        } else {
            assertThat(DurationText.parse(text)).isEqualTo(Duration.ofNanos(Long.parseLong(expected)));
        }
    }

    @Test
    void format_roundTripsInTheLargestExactUnit() {
        assertThat(DurationText.format(Duration.ZERO)).isEqualTo("0");
        assertThat(DurationText.format(Duration.ofMillis(250))).isEqualTo("250ms");
        assertThat(DurationText.format(Duration.ofSeconds(90))).isEqualTo("90s");
        assertThat(DurationText.format(Duration.ofMinutes(5))).isEqualTo("5m");
        assertThat(DurationText.format(Duration.ofHours(48))).isEqualTo("2d");
        assertThat(DurationText.format(Duration.ofNanos(1500))).isEqualTo("1500ns");
        for (Duration d : List.of(Duration.ofNanos(7), Duration.ofMillis(1500), Duration.ofHours(3))) {
            assertThat(DurationText.parse(DurationText.format(d))).isEqualTo(d);
        }
    }

    @Test
    void parse_null_isRefusedWithTheGrammar() {
        assertThatThrownBy(() -> DurationText.parse(null)).hasMessageContaining("use e.g.");
    }
}
