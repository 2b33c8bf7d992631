"""The bot's fixed phrases (greeting, thanks, decline), by language; English is the fallback."""

from __future__ import annotations

PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "greeting": "Hi! I'm {name}, the help bot here.",
        "thanks_resolved": "Glad that worked! I've marked this as solved.",
        "thanks": "You're welcome!",
        "goodbye": "Bye for now!",
        "offer": "I can help with questions about {topics}. What would you like to know?",
        "offer_plain": "Ask me a question about our product and I'll look for the answer in the help center.",
        "decline": "Sorry, that's outside what I can help with here.",
        "decline_person": "If you'd still like a person to look at it, press *Talk to a person*.",
        "clarify": "I want to get this right. Which of these is closest to what you need?\n{options}\nPick one below, or tell me a bit more.",
        "empty": "I didn't catch a question there. What can I help you with?",
        "escalation_notice": "Let me get a person to help with this. I've passed your question to our {team} team with everything you've said so far, so you won't need to repeat yourself. A person will reply right here in this thread.",
        "and": "and",
    },
    "es": {
        "greeting": "¡Hola! Soy {name}, el bot de ayuda.",
        "thanks_resolved": "¡Me alegro de que funcionara! Lo he marcado como resuelto.",
        "thanks": "¡De nada!",
        "goodbye": "¡Hasta luego!",
        "offer": "Puedo ayudarte con preguntas sobre {topics}. ¿Qué necesitas saber?",
        "offer_plain": "Hazme una pregunta sobre nuestro producto y buscaré la respuesta en el centro de ayuda.",
        "decline": "Lo siento, eso está fuera de lo que puedo responder aquí.",
        "decline_person": "Si aun así quieres que lo vea una persona, pulsa *Talk to a person*.",
        "clarify": "Quiero acertar. ¿Cuál de estos temas se acerca más a lo que necesitas?\n{options}\nElige uno abajo o cuéntame un poco más.",
        "empty": "No he visto ninguna pregunta. ¿En qué puedo ayudarte?",
        "escalation_notice": "Voy a pedir ayuda a una persona. He pasado tu pregunta a nuestro equipo de {team} con todo lo que has dicho, así que no tendrás que repetirlo. Una persona te responderá aquí mismo, en este hilo.",
        "and": "y",
    },
    "de": {
        "greeting": "Hallo! Ich bin {name}, der Hilfe-Bot hier.",
        "thanks_resolved": "Schön, dass es geklappt hat! Ich habe es als gelöst markiert.",
        "thanks": "Gern geschehen!",
        "goodbye": "Bis bald!",
        "offer": "Ich helfe bei Fragen zu {topics}. Was möchtest du wissen?",
        "offer_plain": "Stell mir eine Frage zu unserem Produkt, und ich suche die Antwort im Hilfe-Center.",
        "decline": "Das liegt leider außerhalb dessen, wobei ich hier helfen kann.",
        "decline_person": "Wenn sich trotzdem eine Person darum kümmern soll, klick auf *Talk to a person*.",
        "clarify": "Ich möchte dir richtig helfen. Welches dieser Themen trifft es am besten?\n{options}\nWähle unten eines aus oder erzähl mir etwas mehr.",
        "empty": "Ich habe keine Frage erkannt. Wobei kann ich helfen?",
        "escalation_notice": "Ich hole eine Person dazu. Ich habe deine Frage mit allem, was du bisher geschrieben hast, an unser {team}-Team weitergegeben, du musst also nichts wiederholen. Eine Person antwortet dir hier in diesem Thread.",
        "and": "und",
    },
    "fr": {
        "greeting": "Bonjour ! Je suis {name}, le bot d'aide.",
        "thanks_resolved": "Ravi que ça ait marché ! Je l'ai marqué comme résolu.",
        "thanks": "Avec plaisir !",
        "goodbye": "À bientôt !",
        "offer": "Je peux vous aider sur {topics}. Que voulez-vous savoir ?",
        "offer_plain": "Posez-moi une question sur notre produit et je chercherai la réponse dans le centre d'aide.",
        "decline": "Désolé, cela sort de ce que je peux traiter ici.",
        "decline_person": "Si vous souhaitez quand même qu'une personne s'en occupe, cliquez sur *Talk to a person*.",
        "clarify": "Je veux bien vous répondre. Lequel de ces sujets correspond le mieux à votre besoin ?\n{options}\nChoisissez-en un ci-dessous ou donnez-moi plus de détails.",
        "empty": "Je n'ai pas vu de question. Comment puis-je vous aider ?",
        "escalation_notice": "Je fais appel à une personne. J'ai transmis votre question à notre équipe {team} avec tout ce que vous avez dit, vous n'aurez donc pas à le répéter. Une personne vous répondra ici même, dans ce fil.",
        "and": "et",
    },
    "pt": {
        "greeting": "Olá! Eu sou {name}, o bot de ajuda.",
        "thanks_resolved": "Que bom que funcionou! Marquei como resolvido.",
        "thanks": "De nada!",
        "goodbye": "Até logo!",
        "offer": "Posso ajudar com perguntas sobre {topics}. O que você gostaria de saber?",
        "offer_plain": "Faça uma pergunta sobre o nosso produto e eu procuro a resposta na central de ajuda.",
        "decline": "Desculpe, isso está fora do que posso responder aqui.",
        "decline_person": "Se ainda quiser que uma pessoa veja, clique em *Talk to a person*.",
        "clarify": "Quero acertar. Qual destes temas está mais perto do que você precisa?\n{options}\nEscolha um abaixo ou conte-me um pouco mais.",
        "empty": "Não vi nenhuma pergunta. Como posso ajudar?",
        "escalation_notice": "Vou chamar uma pessoa. Passei a sua pergunta para a nossa equipe de {team} com tudo o que você disse, então não precisará repetir. Uma pessoa vai responder aqui mesmo, nesta conversa.",
        "and": "e",
    },
}


def phrase(key: str, lang: str = "en", **values: str) -> str:
    """One fixed phrase in `lang` (English when that language or phrase is missing)."""
    table = PHRASES.get(lang) or PHRASES["en"]
    template = table.get(key) or PHRASES["en"][key]
    return template.format(**values)


def topic_list(topics: list[str], lang: str = "en", limit: int = 5) -> str:
    """'a, b and c' in `lang`, at most `limit` topics."""
    shown = [t for t in topics if t][:limit]
    if len(shown) <= 1:
        return "".join(shown)
    return f"{', '.join(shown[:-1])} {phrase('and', lang)} {shown[-1]}"


def offer(topics: list[str], lang: str = "en") -> str:
    """What the bot can help with, from the help center's own topics."""
    if not topics:
        return phrase("offer_plain", lang)
    return phrase("offer", lang, topics=topic_list(topics, lang))
