package io.cohort.backend;

/**
 * Which backend a group got and why: what was asked, what was chosen, by which provider, and the reason
 * (e.g. "every pair of the 4 devices has P2P", "P2P not available (no P2P from rank 0 (cuda:0) to rank 2
 * (cuda:2)), falling back to native"). Logged at group creation and shown by the CLI.
 */
public record BackendChoice(BackendKind requested, BackendKind chosen, BackendProvider provider, String reason) {

    /** Creates the chosen backend for {@code group}. */
    public CollectiveBackend create(GroupContext group) {
        return provider.create(group);
    }

    @Override
    public String toString() {
        return "backend " + chosen.cliName() + " (requested " + requested.cliName() + ", provider "
                + provider.getClass().getSimpleName() + "): " + reason;
    }
}
