"""Self-check quiz of chapter 04 (notebooks/04_distillation.ipynb): distillation's loss and cost, int8 and pruning."""

QUESTIONS = [
    {
        "ask": "You drop the T² factor from the distillation loss and train at T = 8 with α = 0.5. What happens?",
        "options": [
            "Nothing changes: the softmax normalises the soft term, whatever the temperature.",
            "The soft term's gradients grow with T, so the student copies the teacher's mistakes too.",
            "The student learns a distribution that is sharper than the teacher's own, even at T = 1.",
            "Its gradients shrink (about as 1/T²), so the hard term dominates whatever α says.",
        ],
        "answer": "d",
        "why": "Softening by T shrinks the soft term's gradients, by about 4x per doubling of T once T is large "
               "(faster at low T), as section 2 measures. The T² factor puts them back on the hard term's scale, "
               "so that α means the same at every temperature.",
        "see": "2. The distillation loss",
    },
    {
        "ask": "The loss is α·T²·KL(teacher_T ‖ student_T) + (1 − α)·cross-entropy. With T = 2, α = 0.25, a KL "
               "between the softened distributions of 0.5 and a cross-entropy of 3.0, what is the loss?",
        "answer": 2.75,
        "tolerance": 0.01,
        "why": "0.25 × 2² × 0.5 + (1 − 0.25) × 3.0 = 0.5 + 2.25 = 2.75, as `distillation_loss` computes it "
               "(soft term × T², weighted by α; hard term weighted by 1 − α).",
        "see": "2. The distillation loss",
    },
    {
        "ask": "The student (2 layers, width 64, a 4,096-token vocabulary, context 128, head tied to the token "
               "embedding) has 370,432 parameters. What percentage of them is the token-embedding table?",
        "answer": 70.8,
        "tolerance": 0.02,
        "why": "4,096 × 64 = 262,144, and 262,144 / 370,432 ≈ 70.8 %. Halving the width only halves this table, so "
               "the student keeps 27.8 % of the teacher's parameters, far more than the 1/8 that half the layers "
               "and half the width leave of the transformer blocks.",
        "see": "3. The student",
    },
    {
        "ask": "At equal steps, plain distillation beat the same student trained from scratch; at equal training "
               "time, a longer from-scratch run beat it. Why?",
        "options": [
            "Each distillation step also runs the teacher, so scratch takes more steps in the same time.",
            "Soft targets only help during the warm-up steps, and the longer run outlasted their benefit.",
            "The from-scratch runs used a higher learning rate than the distilled one, so each step learned more.",
            "The teacher's errors build up in a distilled student as training goes on, and it overfits them.",
        ],
        "answer": "a",
        "why": "A distillation step pays for the teacher's forward pass too (it is in the measurement), so the "
               "student trained from scratch for as long takes more steps and ends clearly better. Distillation "
               "paid here where the student started from the teacher's own weights.",
        "see": "5. Results",
    },
    {
        "ask": "You zero the smallest 30 % of each Linear weight (unstructured magnitude pruning) and save the "
               "model with `torch.save`. Compared with the unpruned model:",
        "options": [
            "The file is about 30 % smaller on disk, and generation is about 30 % faster.",
            "The file is the same size, but generation is faster: the zeros are skipped.",
            "Same file size, same speed; only a zipped copy of the file is smaller.",
            "It costs more quality than removing 30 % of whole rows (structured pruning).",
        ],
        "answer": "c",
        "why": "The zeros stay in dense tensors: the same shapes, the same bytes, the same dense matrix products. "
               "Only a compressor (zip) or a sparse kernel sees them. It cost little quality, less than structured "
               "pruning, which removes whole units.",
        "see": "5. Results",
    },
    {
        "ask": "int8 quantization shrank the teacher's file well, but the student's hardly at all. Why?",
        "options": [
            "The distilled student's weights were already stored in 8 bits by the distillation run.",
            "The tied head becomes an extra int8 copy, and it is most of the student's Linear weights.",
            "int8 stores a float scale next to every single weight, which doubles the size of small layers.",
            "Only the MLP layers are quantized, and the student, with half the layers, has few of them.",
        ],
        "answer": "b",
        "why": "`quantize_int8` converts the Linear layers: the embedding table stays float32 while the head tied to "
               "it becomes a second, int8 copy. In the teacher the blocks' Linear weights are large and their "
               "savings win; in the student the head is most of the Linear weights, so little is saved.",
        "see": "5. Results",
    },
]
