/**
 * Plans: how one collective moves and combines data among the ranks of a group.
 *
 * <p>A {@link io.cohort.plan.Plan} is, per rank, a list of {@link io.cohort.plan.Step}s over
 * {@link io.cohort.plan.BufferRef}s (send, recv, scratch, staging) with Signal/Wait for cross-rank order.
 * {@link io.cohort.plan.Planners#of} gives the {@link io.cohort.plan.Planner} of each
 * {@link io.cohort.plan.Algorithm}: {@link io.cohort.plan.RingPlanner}, the tree planners
 * ({@link io.cohort.plan.BinaryTreePlanner}, {@link io.cohort.plan.KaryTreePlanner},
 * {@link io.cohort.plan.BalancedTreePlanner}, sharing {@link io.cohort.plan.TreePlanner}) and
 * {@link io.cohort.plan.OneShotPlanner}. They share one builder that owns the ordering rules (publish and
 * consume, staging where there is no P2P, reader barriers), so each planner only says what moves where.
 *
 * <p>Tools: {@link io.cohort.plan.PlanValidator} (links, bounds, participation, deadlock),
 * {@link io.cohort.plan.PlanSimulator} (runs a plan on arrays under random schedules, detecting races) and
 * {@link io.cohort.plan.PlanExplainer} (what {@code cohort topo --explain} prints). The design and the
 * shapes per topology are in docs/algorithms.md.
 */
package io.cohort.plan;
