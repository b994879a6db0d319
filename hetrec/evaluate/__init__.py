"""evaluate stage: full-ranking metrics, association metrics, baselines under one Recommender interface."""

from hetrec.evaluate.ranking import evaluate_embeddings, evaluate_ranking, evaluate_split, topk_items

__all__ = ["evaluate_ranking", "evaluate_embeddings", "evaluate_split", "topk_items"]
