package dev.blockterm.minilm;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

/**
 * English sentences generated from templates and word lists, seeded: the evaluation and calibration
 * texts of the MiniLM checks. Two seeds give two different sets; {@link #generate} leaves out any
 * sentence of {@code exclude}, so a calibration set never contains an evaluation sentence.
 */
public final class Sentences {

    private static final String[] SUBJECTS = {"the old fisherman", "my younger sister", "a tired nurse",
        "the city council", "our new neighbour", "the football coach", "a curious student", "the bakery owner",
        "the night train", "a small robot", "the research team", "an angry customer", "the village doctor",
        "a famous painter", "the delivery driver", "my grandfather", "the school choir", "a lost tourist",
        "the software engineer", "the hotel manager", "a stray dog", "the museum guide", "the farmer's wife",
        "a young pilot"};
    private static final String[] VERBS = {"repaired", "painted", "sold", "found", "described", "ignored",
        "photographed", "carried", "ordered", "forgot", "borrowed", "cleaned", "measured", "tested", "cooked",
        "delivered", "questioned", "celebrated", "discovered", "replaced"};
    private static final String[] OBJECTS = {"a broken bicycle", "the wooden fence", "fresh bread",
        "an old map", "the weather report", "a red umbrella", "the quarterly budget", "a bowl of soup",
        "the garden shed", "a stack of letters", "the kitchen window", "a rare stamp", "the final exam",
        "a leather jacket", "the train schedule", "a bag of apples", "the hospital records", "a new laptop",
        "the church bells", "a birthday cake"};
    private static final String[] PLACES = {"in the harbour", "near the station", "behind the library",
        "at the market", "on the mountain road", "in a quiet village", "at the airport", "by the river",
        "in the basement", "on the rooftop", "at the football ground", "in the city centre"};
    private static final String[] TIMES = {"yesterday morning", "last winter", "before dawn", "after lunch",
        "on Sunday", "during the storm", "every summer", "late at night", "two weeks ago", "this afternoon"};
    private static final String[] ADJECTIVES = {"quiet", "expensive", "dangerous", "beautiful", "crowded",
        "boring", "delicious", "strange", "modern", "ancient", "noisy", "comfortable"};
    private static final String[] TOPICS = {"climate change", "the election", "machine learning",
        "the price of housing", "public transport", "the history of Rome", "healthy food", "space travel",
        "the new stadium", "online privacy", "renewable energy", "the local football team"};

    private Sentences() {
    }

    /** {@code n} distinct sentences from {@code seed}, none of them in {@code exclude}. */
    public static List<String> generate(int n, long seed, Collection<String> exclude) {
        Random r = new Random(seed);
        Set<String> out = new LinkedHashSet<>();
        Set<String> skip = Set.copyOf(exclude);
        while (out.size() < n) {
            String s = one(r);
            if (!skip.contains(s)) {
                out.add(s);
            }
        }
        return new ArrayList<>(out);
    }

    private static String one(Random r) {
        String s = switch (r.nextInt(6)) {
            case 0 -> pick(r, SUBJECTS) + " " + pick(r, VERBS) + " " + pick(r, OBJECTS) + " " + pick(r, PLACES) + ".";
            case 1 -> pick(r, TIMES) + ", " + pick(r, SUBJECTS) + " " + pick(r, VERBS) + " " + pick(r, OBJECTS) + ".";
            case 2 -> "Why has " + pick(r, SUBJECTS) + " never " + pick(r, VERBS) + " " + pick(r, OBJECTS) + "?";
            case 3 -> "The restaurant " + pick(r, PLACES) + " was " + pick(r, ADJECTIVES) + " but rather "
                    + pick(r, ADJECTIVES) + ".";
            case 4 -> pick(r, SUBJECTS) + " wrote a long article about " + pick(r, TOPICS) + " " + pick(r, TIMES) + ".";
            default -> "I think " + pick(r, TOPICS) + " is more " + pick(r, ADJECTIVES) + " than " + pick(r, TOPICS)
                    + ".";
        };
        return Character.toUpperCase(s.charAt(0)) + s.substring(1);
    }

    private static String pick(Random r, String[] words) {
        return words[r.nextInt(words.length)];
    }
}
