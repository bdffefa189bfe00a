"""The README's first command runs this: a real encode and semantic search with the default model."""

from sentvec import SentenceTransformer, util

model = SentenceTransformer("all-MiniLM-L6-v2")  # fetched into the local cache on first use

sentences = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
embeddings = model.encode(sentences)
print(f"{len(sentences)} sentences -> embeddings of shape {embeddings.shape}")
print("cosine similarity matrix:")
print(model.similarity(embeddings, embeddings).numpy().round(4))

corpus = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The girl is carrying a baby.",
    "A man is riding a horse.",
    "A woman is playing violin.",
    "Two men pushed carts through the woods.",
    "A man is riding a white horse on an enclosed ground.",
    "A monkey is playing drums.",
    "A cheetah is running behind its prey.",
]
queries = ["A man is eating pasta.", "Someone in a gorilla costume is playing a set of drums."]
corpus_embeddings = model.encode_document(corpus, convert_to_tensor=True)
query_embeddings = model.encode_query(queries, convert_to_tensor=True)
for query, hits in zip(queries, util.semantic_search(query_embeddings, corpus_embeddings, top_k=3)):
    print(f"\nquery: {query}")
    for hit in hits:
        print(f"  {hit['score']:.4f}  {corpus[hit['corpus_id']]}")
